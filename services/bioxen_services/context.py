"""What a service's routes need, held in ``app.extensions["bioxen"]``."""

from __future__ import annotations

from dataclasses import dataclass

from bioxen_vm.bytecode import Manifest

from .runtime import Runtime
from .settings import Settings
from .store import Compiled, ModelStore
from .timeouts import time_budget
from .validation import ModelRef


@dataclass
class ServiceContext:
    service: str
    settings: Settings
    manifest: Manifest
    store: ModelStore
    runtime: Runtime

    def model(self, ref: ModelRef) -> Compiled:
        """A compiled model for this request, once the worker is ready: compiled under the engine lock
        and within the request's time budget (a huge inline model answers 504, like a long computation)."""
        self.runtime.wait_ready()
        with self.runtime.lock, time_budget(self.settings.request_timeout_seconds, "compiling this model"):
            return self.store.get(ref)

    def shipped(self, model_id: str) -> Compiled:
        return self.model(ModelRef("id", model_id))
