"""Production server: gunicorn with sync workers, one engine per process.

``bioxen serve static|dynamic`` calls :func:`serve`. The calling process becomes the gunicorn master
(so in a container it is PID 1 and receives SIGTERM); each worker builds its own app with
:func:`bioxen_services.app.create_app`. Prometheus samples of all workers are aggregated through a
multiprocess directory that the master empties at start and prunes when a worker exits.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

from . import SERVICES

log = logging.getLogger(__name__)

#: single-threaded numeric libraries per worker, so N workers use N cores and no more
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def available_cpus() -> int:
    """CPUs this process may use: the cgroup quota in a container, else the affinity mask."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, int(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


def prepare_metrics_dir(path: str | None) -> str:
    path = path or os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="bioxen-metrics-")
    os.makedirs(path, exist_ok=True)
    for entry in os.listdir(path):  # samples of an earlier run would be summed with ours
        target = os.path.join(path, entry)
        if os.path.isdir(target):
            shutil.rmtree(target)
        else:
            os.remove(target)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def serve(service: str, host: str = "0.0.0.0", port: int = 8000, workers: int | None = None,
          timeout: float | None = None, metrics_dir: str | None = None, log_level: str = "info") -> None:
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    os.environ.update({k: os.environ.get(k, v) for k, v in THREAD_ENV.items()})
    prepare_metrics_dir(metrics_dir)

    from gunicorn.app.base import BaseApplication

    from .runtime import share_drain_flag
    from .settings import Settings

    settings = Settings.from_env()  # checked here once, so a bad setting stops the master, not each worker
    budget = timeout or settings.request_timeout_seconds
    drain_flag = share_drain_flag()  # before the fork: every worker's /readyz reads it
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers or available_cpus(),
        "worker_class": "sync",
        # a computation past its budget is stopped by the app (504); this is the last resort
        "timeout": int(budget) + 30,
        # on SIGTERM a worker finishes its request, which the budget bounds; then it exits
        "graceful_timeout": int(budget) + 5,
        "keepalive": 5,
        "backlog": 256,
        "loglevel": log_level,
        "accesslog": None,
        "errorlog": "-",
        "proc_name": f"bioxen-{service}",
        "child_exit": _child_exit,
        "worker_int": _worker_int,
        "when_ready": lambda server: _drain_on_term(server, drain_flag, settings.drain_seconds),
    }

    class _App(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from .app import create_app

            return create_app(service)

    log.info("bioxen %s service on %s with %s workers", service, options["bind"], options["workers"])
    _App().run()


def _drain_on_term(server, flag, seconds: float) -> None:
    """SIGTERM starts draining: every worker's /readyz answers 503 at once (so Kubernetes takes the
    pod out of its Services) while requests are still served for ``seconds``; then gunicorn's
    graceful stop lets each worker finish the request it is on, and exits. The listening socket is
    shut down (not only closed: the workers share it), so a connection attempt from then on is
    refused at once instead of waiting in the backlog for a worker that will never accept it.
    A second SIGTERM skips the rest of the wait."""
    stop = server.handle_term

    def handle_term():
        if flag.value or seconds <= 0:
            flag.value = 1
            server.kill_workers(signal.SIGTERM)  # idle workers leave their accept loop first
            for listener in server.LISTENERS:
                try:
                    listener.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            stop()
        flag.value = 1
        server.log.info("draining: readiness false, stopping in %.1f s", seconds)
        timer = threading.Timer(seconds, server.signal, (signal.SIGTERM, None))
        timer.daemon = True
        timer.start()

    server.handle_term = handle_term


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _worker_int(worker) -> None:
    worker.log.info("worker %s interrupted", worker.pid)
