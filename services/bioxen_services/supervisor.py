"""The front's side of the engines: a template process and a pool of engine processes it forks.

::

    front (Flask on waitress, threads)             template (one interpreter, no threads)
      request thread --pickle--> engine process <--fork-- shipped models compiled once
      supervisor thread: keeps N engines alive, asks the template for replacements

Every computation runs in an engine process under the request's deadline. The front waits for the
answer and, whatever the engine is doing (Python or one long C call):

- past the deadline, kills it (SIGKILL) and answers 504;
- when the client disconnects, kills it (its answer would go nowhere);
- when its memory grows past ``engine_memory_bytes`` above what it had at birth, kills it (422);
- when it dies (a C library aborting), answers 500 and replaces it.

An engine that raised an unexpected error, or whose answer left it above half its memory allowance,
is discarded too: nothing interrupted half-way or in doubt is ever reused. Every new engine runs a
tiny computation (:func:`.zygote.self_check`) before it serves; one that fails is killed, and when new
engines keep failing the template itself is restarted from scratch, so readiness (template ready and
an engine serving) never says yes for a replica that can only answer 500s. Replacements are forked
from the warm template, so they serve again within milliseconds
(``bioxen_engine_spawn_duration_seconds``). Engines keep their own inline-model caches; a request for
an inline model prefers an idle engine that compiled it before.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Callable

from . import metrics
from .errors import (ComputationTimeout, EngineFailed, LimitExceeded, NotReady, Overloaded,
                     RequestCancelled, ServiceError)
from .zygote import rss_bytes, self_check

log = logging.getLogger(__name__)

#: why engines are discarded (the ``reason`` label of bioxen_engine_restarts_total)
RESTART_REASONS = ("deadline", "client_gone", "memory", "memory_recycled", "crashed", "error", "self_check")
#: how often a waiting request looks at its client and its engine's memory
POLL_SECONDS = 0.05
#: how long a new engine or template may take to say it is ready
SPAWN_TIMEOUT_SECONDS = 20.0
TEMPLATE_TIMEOUT_SECONDS = 600.0


def available_cpus() -> int:
    """CPUs this process may use: the cgroup quota in a container, else the affinity mask."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


@dataclass(eq=False)
class Engine:
    pid: int
    conn: Connection
    born_rss: int
    caches: set[str] = field(default_factory=set)

    def growth(self, rss: int | None = None) -> int:
        return (rss_bytes(self.pid) if rss is None else rss) - self.born_rss


class Supervisor:
    def __init__(self, service: str, settings, *, replica: bool = True):
        self.service = service
        #: a service replica reports bioxen_ready (one per pod behind the Service); a job worker does not
        self.replica = replica
        self.settings = settings
        self.size = settings.engines or available_cpus()
        self.queue_limit = self.size * settings.queue_per_engine
        self._cv = threading.Condition()
        self._idle: list[Engine] = []
        self._engines: set[Engine] = set()
        self._waiting = 0
        self._wake = threading.Event()
        self._stopping = False
        self._started = False
        self._spawn_lock = threading.Lock()
        self._failed_checks = 0
        self._template: subprocess.Popen | None = None
        self._ctl: socket.socket | None = None
        self._ctl_in: Connection | None = None
        self.models_loaded: list[str] = []
        self.load_seconds: float | None = None
        self.load_error: str | None = None
        self.draining = False
        if replica:
            metrics.READY.labels(service).set(0)
        for reason in RESTART_REASONS:  # exported at 0, so rates exist before the first restart
            metrics.ENGINE_RESTARTS.labels(service, reason)

    # -- state ----------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._template_ready and bool(self._engines)

    @property
    def _template_ready(self) -> bool:
        return self.load_seconds is not None

    def pids(self) -> dict[str, Any]:
        with self._cv:
            return {"template": self._template.pid if self._template else None,
                    "engines": sorted(e.pid for e in self._engines)}

    # -- life cycle -----------------------------------------------------------------------------
    def start(self, wait: bool = False) -> None:
        with self._cv:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._keep_alive, name=f"{self.service}-supervisor", daemon=True).start()
        if wait:
            deadline = time.monotonic() + TEMPLATE_TIMEOUT_SECONDS
            while not self.ready and self.load_error is None and time.monotonic() < deadline:
                time.sleep(0.02)

    def stop(self) -> None:
        """Kill every engine and the template (the front is exiting; none is computing any more)."""
        self._stopping = True
        self._wake.set()
        with self._cv:
            engines, self._engines, self._idle = list(self._engines), set(), []
        for engine in engines:
            self._kill(engine)
        if self._ctl is not None:
            self._ctl.close()
        if self._template is not None and self._template.poll() is None:
            self._template.kill()
            self._template.wait(5)

    def _keep_alive(self) -> None:
        """Supervisor thread: a live template, and ``size`` live engines forked from it."""
        backoff = 1.0
        while not self._stopping:
            try:
                if self._template is None or self._template.poll() is not None:
                    self._start_template()
                    backoff = 1.0
                while len(self._engines) < self.size and not self._stopping:
                    self._add_engine()
            except (OSError, EOFError, TimeoutError, RuntimeError) as exc:
                log.error("%s supervisor: %s; retrying in %.0f s", self.service, exc, backoff)
                self._wake.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            if self.replica:
                metrics.READY.labels(self.service).set(1 if self.ready and not self.draining else 0)
            self._wake.wait(1.0)
            self._wake.clear()

    def _start_template(self) -> None:
        if self._template is not None:  # running engines stay valid: each holds its own copy
            log.error("%s template exited with %s; starting a new one", self.service, self._template.returncode)
            self.load_seconds = None
            self._ctl.close()
            self._ctl_in.close()
        front, back = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {**os.environ, "BIOXEN_LOG_LEVEL": logging.getLevelName(logging.getLogger().level)}
        self._template = subprocess.Popen(
            [sys.executable, "-m", "bioxen_services.zygote", self.service, str(back.fileno())],
            pass_fds=(back.fileno(),), env=env)
        back.close()
        self._ctl = front
        self._ctl_in = Connection(os.dup(front.fileno()))
        if not self._ctl_in.poll(TEMPLATE_TIMEOUT_SECONDS):
            raise TimeoutError("the engine template did not load its models in time")
        message = pickle.loads(self._ctl_in.recv_bytes())
        if message[0] != "ready":
            self.load_error = message[1]
            raise RuntimeError(f"the engine template failed to load the shipped models: {message[1]}")
        _, self.models_loaded, self.load_seconds = message
        self.load_error = None
        log.info("%s template ready in %.2f s (pid %s)", self.service, self.load_seconds, self._template.pid)

    def _add_engine(self) -> None:
        started = time.perf_counter()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._spawn_lock:
            try:
                socket.send_fds(self._ctl, [b"S"], [theirs.fileno()])
                pid = struct.unpack("q", self._ctl_in.recv_bytes())[0]
            finally:
                theirs.close()
        conn = Connection(ours.detach())
        if not conn.poll(SPAWN_TIMEOUT_SECONDS):
            os.kill(pid, signal.SIGKILL)
            conn.close()
            raise TimeoutError(f"engine {pid} did not start")
        _, pid, born = pickle.loads(conn.recv_bytes())
        engine = Engine(pid, conn, born)
        if not self._passes_self_check(engine):
            self._kill(engine)
            metrics.ENGINE_RESTARTS.labels(self.service, "self_check").inc()
            self._failed_checks += 1
            if not self._engines:  # nothing can serve: requests are told at once (503), not made to wait
                self.load_error = "new engine processes fail their self-check on the shipped models"
            if self._failed_checks >= 3 and self._template is not None:  # the template itself is broken
                log.error("%s: new engines keep failing their self-check; restarting the template", self.service)
                self._template.kill()
                self._template.wait(5)
                self._failed_checks = 0
            raise RuntimeError(f"new engine {pid} failed its self-check")
        self._failed_checks = 0
        metrics.ENGINE_SPAWN_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        with self._cv:
            self._engines.add(engine)
            self._idle.append(engine)
            metrics.ENGINES.labels(self.service).set(len(self._engines))
            self._cv.notify()

    @staticmethod
    def _passes_self_check(engine: Engine) -> bool:
        try:
            engine.conn.send_bytes(pickle.dumps((self_check, None, ())))
            if not engine.conn.poll(SPAWN_TIMEOUT_SECONDS):
                return False
            (status, value), _ = pickle.loads(engine.conn.recv_bytes())
        except (OSError, EOFError):
            return False
        return status == "ok" and value is True

    def _kill(self, engine: Engine) -> None:
        try:
            os.kill(engine.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        engine.conn.close()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(engine.pid)

    def discard(self, engine: Engine, reason: str) -> None:
        """Kill ``engine`` and have the supervisor thread fork a replacement."""
        with self._cv:
            self._engines.discard(engine)
            if engine in self._idle:
                self._idle.remove(engine)
            metrics.ENGINES.labels(self.service).set(len(self._engines))
        self._kill(engine)
        metrics.ENGINE_RESTARTS.labels(self.service, reason).inc()
        log.warning("%s engine %s discarded: %s", self.service, engine.pid, reason)
        self._wake.set()

    # -- computations ---------------------------------------------------------------------------
    def _acquire(self, deadline: float, cache_key: str | None, gone: Callable[[], bool]) -> Engine:
        with self._cv:
            if self._waiting >= self.queue_limit:
                raise Overloaded(f"all {self.size} engines of this replica are busy and {self._waiting} "
                                 "requests are waiting; retry on another replica or later")
            self._waiting += 1
            try:
                while True:
                    if self._idle:
                        chosen = next((e for e in reversed(self._idle) if cache_key in e.caches),
                                      self._idle[-1])
                        self._idle.remove(chosen)
                        return chosen
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ComputationTimeout("no engine of this replica became free within the "
                                                 f"request's deadline of {self.settings.request_timeout_seconds:g} s")
                    if gone():
                        raise RequestCancelled("the client disconnected while its request waited")
                    self._cv.wait(min(left, POLL_SECONDS * 4))
            finally:
                self._waiting -= 1

    def _release(self, engine: Engine, stats: dict) -> None:
        if engine.growth(stats.get("rss", 0)) > self.settings.engine_memory_bytes / 2:
            self.discard(engine, "memory_recycled")
            return
        if stats.get("sha256"):
            engine.caches.add(stats["sha256"])
        with self._cv:
            if engine in self._engines:
                self._idle.append(engine)
                self._cv.notify()

    def wait_ready(self, deadline: float) -> None:
        self.start()
        while not self.ready:
            if self.load_error or time.monotonic() >= deadline:
                raise NotReady(f"the {self.service} service is still loading its models"
                               + (f" (failed: {self.load_error})" if self.load_error else ""))
            time.sleep(0.02)

    def run(self, kind: str, fn: Callable, ref, args: tuple, *, deadline: float,
            gone: Callable[[], bool] = lambda: False) -> Any:
        """``fn`` in an engine process (see :mod:`.zygote` for how it is called); its result."""
        self.wait_ready(deadline)
        message = pickle.dumps((fn, ref, args), protocol=pickle.HIGHEST_PROTOCOL)
        cache_key = getattr(ref, "cache_key", None)
        while True:
            engine = self._acquire(deadline, cache_key, gone)
            try:
                engine.conn.send_bytes(message)
                break
            except OSError:  # it died while idle; the computation never started: another engine
                self.discard(engine, "crashed")
        (status, value), stats = self._wait(engine, kind, deadline, gone)
        if status == "fatal":
            self.discard(engine, "error")
            raise EngineFailed(f"this {kind} computation failed inside the engine ({value}); the engine "
                               "process was replaced")
        self._release(engine, stats)
        if status == "error":
            code, name, text, details = value
            error = ServiceError(text, code=name, details=details)
            error.status_code = code
            raise error
        return value

    def _wait(self, engine: Engine, kind: str, deadline: float, gone: Callable[[], bool]):
        limit = self.settings.engine_memory_bytes
        while True:
            left = deadline - time.monotonic()
            try:
                if engine.conn.poll(max(0.0, min(left, POLL_SECONDS))):
                    return pickle.loads(engine.conn.recv_bytes())
            except (EOFError, OSError):
                self.discard(engine, "crashed")
                raise EngineFailed(f"the engine process died during this {kind} computation (a native "
                                   "library aborted); it was replaced. The request is not retried: it may "
                                   "be what kills the engine") from None
            if left <= 0:
                self.discard(engine, "deadline")
                budget = self.settings.request_timeout_seconds
                raise ComputationTimeout(
                    f"this {kind} computation did not finish within the service's time budget of {budget:g} s; "
                    "split the work into smaller requests (the client chunks large batches)")
            if gone():
                self.discard(engine, "client_gone")
                raise RequestCancelled(f"the client disconnected; its {kind} computation was stopped")
            if engine.growth() > limit:
                self.discard(engine, "memory")
                raise LimitExceeded(f"this {kind} computation needed more than {limit // 2**20} MiB of memory "
                                    "(the engine limit); ask for fewer points, selections or grid values")
