"""One worker's engine runtime: loads the shipped models in the background at start-up, answers
readiness, and runs each computation under the engine lock and the request's time budget.

GLPK and Antimony are not thread-safe, so every engine call of a process goes through one lock
(gunicorn's sync workers serve one request at a time anyway; the lock also covers the loader thread).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from typing import Any, Callable

from . import metrics
from .errors import NotReady, ServiceError
from .settings import Settings
from .timeouts import time_budget

log = logging.getLogger(__name__)

#: one byte shared by the gunicorn master and all its workers (created by the master before it forks,
#: see :func:`share_drain_flag`); the master sets it when the replica starts draining
_drain_flag = None


def share_drain_flag():
    """Create the replica-wide draining flag; call in the master before any worker is forked."""
    global _drain_flag
    _drain_flag = multiprocessing.RawValue("b", 0)
    return _drain_flag


class Runtime:
    def __init__(self, service: str, settings: Settings, loader: Callable[[], None]):
        self.service = service
        self.settings = settings
        self._loader = loader
        self.lock = threading.RLock()
        self.ready = threading.Event()
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._started = time.monotonic()
        metrics.READY.labels(service).set(0)

    @property
    def draining(self) -> bool:
        """True once the replica was told to stop (SIGTERM): readiness turns false, work in flight
        still finishes."""
        return bool(_drain_flag is not None and _drain_flag.value)

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._load, name=f"{self.service}-loader", daemon=True).start()
        else:
            self._load()

    def _load(self) -> None:
        try:
            with self.lock:
                self._loader()
        except Exception as exc:  # a broken shipped model keeps the worker unready, visibly
            log.exception("%s service: loading shipped models failed", self.service)
            self.load_error = f"{type(exc).__name__}: {exc}"
            return
        self.load_seconds = time.monotonic() - self._started
        self.ready.set()
        metrics.READY.labels(self.service).set(1)
        log.info("%s service ready in %.2f s", self.service, self.load_seconds)

    def wait_ready(self) -> None:
        if self.ready.is_set():
            return
        if self.load_error or not self.ready.wait(self.settings.request_timeout_seconds):
            raise NotReady(f"the {self.service} service is still loading its models"
                           + (f" (failed: {self.load_error})" if self.load_error else ""))

    def compute(self, kind: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Run ``fn`` under the engine lock and the time budget; count it by kind and status."""
        self.wait_ready()
        started = time.perf_counter()
        status = "error"
        try:
            with self.lock, time_budget(self.settings.request_timeout_seconds, f"this {kind} computation"):
                result = fn(*args, **kwargs)
            status = getattr(result, "status", None) or (
                result.get("status") if isinstance(result, dict) else None) or "success"
            return result
        except ServiceError as exc:
            status = exc.code
            raise
        finally:
            metrics.COMPUTATIONS.labels(self.service, kind, str(status)).inc()
            metrics.COMPUTATION_SECONDS.labels(self.service, kind).observe(time.perf_counter() - started)
