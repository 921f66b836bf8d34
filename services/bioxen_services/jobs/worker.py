"""``bioxen worker static|dynamic`` (``python -m bioxen_services.jobs.worker static``): takes job chunks
off its engine's queue and runs them in the same supervised engines as the service.

::

    worker process (threads, never forks itself)            engine template (fresh interpreter)
      RQ loop 1 ── run_chunk ── Supervisor.run ──pickle──>  engine 1  <──fork──  shipped models
      RQ loop 2 ── run_chunk ── Supervisor.run ──pickle──>  engine 2  <──fork──  compiled once
      supervisor thread, /metrics thread, RQ pub/sub threads

One RQ loop per engine, each a ``SimpleWorker`` (it runs its chunk in-process: RQ's default worker
forks a "work horse" per task, and forking a process that runs threads is unsafe). The chunk itself
runs in an engine process of a :class:`~..supervisor.Supervisor`, exactly as a request of the
service does: under a deadline (``job_chunk_timeout_seconds``), with its memory watched, and with
the engine killed and replaced when it crashes, so a chunk that kills engines never kills the
worker. While a chunk runs, its loop renews the chunk's claim in RQ's registry every
``job_heartbeat_seconds`` and looks at its job every half second: a cancelled job's engine is
stopped at once.

SIGTERM stops taking chunks; chunks running finish, then the process exits. A second SIGTERM (or
SIGINT) kills the engines at once: their chunks run again on other workers. What a chunk run does is
:mod:`.runner`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from bioxen_common.names import SERVICES

log = logging.getLogger(__name__)


def _serve_metrics(host: str, port: int, store) -> None:
    from prometheus_client import start_http_server

    from .. import metrics
    from .collector import JobCollector

    metrics.add_live_collector(JobCollector(store))
    start_http_server(port, addr=host, registry=metrics.registry())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bioxen worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--engines", type=int, default=None,
                        help="engine processes, one chunk each at a time (default: BIOXEN_ENGINES, else the CPUs)")
    parser.add_argument("--metrics-port", type=int, default=9100, help="Prometheus /metrics port (0: none)")
    parser.add_argument("--metrics-host", default="0.0.0.0")
    parser.add_argument("--metrics-dir", default=None, help="Prometheus multiprocess directory")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    return work(args.service, engines=args.engines, metrics_host=args.metrics_host, metrics_port=args.metrics_port,
                metrics_dir=args.metrics_dir)


def work(service: str, engines: int | None = None, metrics_host: str = "0.0.0.0", metrics_port: int = 9100,
         metrics_dir: str | None = None) -> int:
    """Run the worker until SIGTERM; the exit status."""
    from ..server import THREAD_ENV, prepare_metrics_dir

    os.environ.update({k: os.environ.get(k, v) for k, v in THREAD_ENV.items()})
    prepare_metrics_dir(metrics_dir)  # before anything creates a metric: they must all write there

    from ..errors import ServiceError
    from ..settings import Settings
    from ..supervisor import Supervisor
    from . import kinds, runner
    from .store import JobStore

    settings = Settings.from_env(**({"engines": engines} if engines else {}))
    try:
        store = JobStore.connect(settings, service)
        with store.reachable():
            store.redis.ping()
    except ServiceError as exc:
        log.error("%s", exc.message)
        return 2
    supervisor = Supervisor(service, settings, replica=False)
    supervisor.start(wait=True)
    if not supervisor.ready:
        log.error("the %s engines could not start: %s", service, supervisor.load_error)
        supervisor.stop()
        return 1
    kinds.kinds(service)  # imported now (cobra or roadrunner take seconds), not under a chunk's claim
    chunks = runner.ChunkRunner(service, settings, supervisor, store)
    runner.install(chunks)
    if metrics_port:
        _serve_metrics(metrics_host, metrics_port, store)
    workers = runner.build_workers(store, settings, supervisor.size)

    def loop(worker) -> None:
        chunks.local.worker = worker
        worker.work(logging_level=logging.getLevelName(logging.getLogger().level), with_scheduler=False)

    stopping = threading.Event()

    def on_signal(signum, frame):
        if stopping.is_set():
            log.warning("second signal: stopping the engines now; their chunks run again elsewhere")
            supervisor.stop()
            os._exit(1)
        stopping.set()
        log.info("stopping: no new chunks; waiting for the running ones")
        for worker in workers:
            worker._stop_requested = True  # RQ's warm shutdown, seen between chunks

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=loop, args=(w,), name=w.name, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    log.info("bioxen %s worker: %d engines on queue %s (%s)", service, supervisor.size, store.queue.name, store.where)
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(0.5)
    supervisor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
