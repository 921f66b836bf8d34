"""Production server: one front process per replica, serving the Flask app on waitress, with the
engines in supervised processes (:mod:`.supervisor`).

``python -m bioxen_services serve static|dynamic`` (:mod:`.__main__`, which ``bioxen serve`` executes in
its own process) calls :func:`serve`; the calling process is the front (in a container, PID 1, so it
receives SIGTERM). Why waitress: its I/O thread reads each request whole (headers and
body) before a handler thread sees it, and buffers answers, so a client that dribbles its request or
never reads its answer holds a socket, never a thread; ``/healthz``, ``/readyz`` and ``/metrics`` are
answered by the front's own threads whatever the engines are doing. On top of waitress:

- a request must arrive whole within ``read_timeout_seconds`` of its first byte (else the connection
  is closed), idle or unread connections close after ``idle_timeout_seconds``;
- the handler threads outnumber the requests that may wait for an engine, so probes always find one;
- a client that disconnects is noticed while its computation runs (``waitress.client_disconnected``)
  and its engine is stopped.

SIGTERM drains: readiness answers 503 at once (Kubernetes takes the pod out of its Services), the
listener closes after ``drain_seconds``, requests in flight finish (their deadlines bound that), then
the engines and the template stop and the process exits 0.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time

from bioxen_common.names import SERVICES

log = logging.getLogger(__name__)

#: single-threaded numeric libraries per engine process, so N engines use N cores and no more
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: front threads beyond the requests that may wait for engines: probes and /metrics always get one
SPARE_THREADS = 4


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


def _timed_channel(base, read_timeout: float):
    """waitress's channel, remembering when the request it is reading began."""

    class TimedChannel(base):
        request_began = None

        def received(self, data):
            if self.request is None and data:
                self.request_began = time.monotonic()
            return super().received(data)

    return TimedChannel


def _close_slow_requests(server, read_timeout: float) -> None:
    """Every maintenance pass also closes connections whose request has been arriving for too long."""
    maintenance = server.maintenance

    def run(now):
        maintenance(now)
        cutoff = time.monotonic() - read_timeout
        for channel in list(server.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if channel.request is not None and began is not None and began < cutoff:
                log.info("closing a connection whose request took more than %.0f s to arrive", read_timeout)
                channel.will_close = True

    server.maintenance = run


def serve(service: str, host: str = "0.0.0.0", port: int = 8000, engines: int | None = None,
          timeout: float | None = None, metrics_dir: str | None = None) -> None:
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    os.environ.update({k: os.environ.get(k, v) for k, v in THREAD_ENV.items()})
    prepare_metrics_dir(metrics_dir)

    from waitress.channel import HTTPChannel
    from waitress.server import create_server

    from .app import create_app
    from .settings import Settings

    overrides = {k: v for k, v in (("engines", engines), ("request_timeout_seconds", timeout)) if v}
    settings = Settings.from_env(**overrides)  # checked once here: a bad setting stops the replica at once
    app = create_app(service, settings)
    supervisor = app.extensions["bioxen"].runtime
    supervisor.start()

    queue = supervisor.size + supervisor.queue_limit
    server = create_server(
        app, host=host, port=port, threads=queue + SPARE_THREADS, ident=f"bioxen-{service}",
        channel_timeout=settings.idle_timeout_seconds, cleanup_interval=1, channel_request_lookahead=1,
        # a body just past the limit still reaches the app, which answers with the JSON error envelope;
        # far past it waitress stops reading and answers 413 itself
        max_request_body_size=settings.max_body_bytes + 2**20, connection_limit=max(100, 4 * queue),
        backlog=256, expose_tracebacks=False, clear_untrusted_proxy_headers=True)
    server.channel_class = _timed_channel(HTTPChannel, settings.read_timeout_seconds)
    _close_slow_requests(server, settings.read_timeout_seconds)
    in_flight = app.extensions["bioxen_in_flight"]

    def drain_and_exit():
        time.sleep(settings.drain_seconds)
        server.accepting = False
        try:  # connection attempts are refused from now on, not left in the backlog
            server.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        deadline = time.monotonic() + settings.request_timeout_seconds + 5
        while time.monotonic() < deadline and (in_flight.count or _unsent(server)):
            time.sleep(0.05)
        supervisor.stop()
        log.info("%s service stopped", service)
        logging.shutdown()
        os._exit(0)

    def on_term(signum, frame):
        if supervisor.draining:
            return
        supervisor.draining = True
        from . import metrics

        metrics.READY.labels(service).set(0)
        log.info("draining: readiness false, listener closes in %.1f s", settings.drain_seconds)
        threading.Thread(target=drain_and_exit, name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info("bioxen %s service on %s:%s with %d engine processes", service, host, port, supervisor.size)
    try:
        server.run()
    finally:
        supervisor.stop()


def _unsent(server) -> bool:
    """Whether any connection still has an answer being written."""
    return any(channel.total_outbufs_len or channel.requests for channel in list(server.active_channels.values()))
