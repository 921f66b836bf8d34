"""The service's data plane, held in ``app.extensions["bioxen"]``: the one object routes call once they
have parsed a request (after kserve's ``DataPlane``). It waits for the engines, resolves and loads the
model in an engine process, computes under the request's single deadline, and the answer comes back
with the model described (``result["model"]``: id and sha256). Routes never touch the runtime or the
model store themselves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from flask import g, request

from bioxen_common.manifest import Manifest

from . import SERVICE_NAMES, metrics
from .errors import ServiceError
from .modelref import ModelRef
from .settings import Settings
from .supervisor import Supervisor


def _never() -> bool:
    return False


@dataclass
class DataPlane:
    service: str
    settings: Settings
    manifest: Manifest
    runtime: Supervisor

    def model_ids(self) -> list[str]:
        """The shipped model ids, from the manifest."""
        models = self.manifest.metabolic_models if self.service == "static" else self.manifest.kinetic_programs
        return list(models)

    def deadline(self) -> float:
        """Monotonic end of the current request's time budget (it started when the request arrived)."""
        return g.get("deadline") or time.monotonic() + self.settings.request_timeout_seconds

    def readiness(self) -> dict:
        """``/readyz``: whether the engine template compiled the shipped models and engines serve
        (answered by the front itself, so busy engines never delay it)."""
        runtime = self.runtime
        runtime.start()
        body = {"service": SERVICE_NAMES[self.service], "ready": runtime.ready,
                "models_loaded": runtime.models_loaded, "load_seconds": runtime.load_seconds,
                "engines": runtime.pids()}
        if runtime.load_error:
            body["error"] = runtime.load_error
        if runtime.draining:
            body["ready"] = False
            body["draining"] = True
        return body

    def compute(self, kind: str, fn: Callable, ref: ModelRef | None, *args) -> Any:
        """``fn(model, *args)`` in an engine process on the model ``ref`` names (``fn(store, *args)``
        when ``ref`` is None), under the request's deadline; counted by kind and status."""
        started = time.perf_counter()
        status = "error"
        try:
            result = self.runtime.run(kind, fn, ref, args, deadline=self.deadline(),
                                      gone=request.environ.get("waitress.client_disconnected", _never))
            # a result may name its final status itself (a dFBA run: its last point's)
            status = getattr(result, "status", None) or (
                result.get("status") if isinstance(result, dict) else None) or "success"
            return result
        except ServiceError as exc:
            status = exc.code
            raise
        finally:
            metrics.COMPUTATIONS.labels(self.service, kind, str(status)).inc()
            metrics.COMPUTATION_SECONDS.labels(self.service, kind).observe(time.perf_counter() - started)
