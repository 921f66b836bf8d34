"""What a service's routes need, held in ``app.extensions["bioxen"]``."""

from __future__ import annotations

from dataclasses import dataclass

from bioxen_vm.bytecode import Manifest

from .runtime import Runtime
from .settings import Settings
from .store import Compiled, ModelStore
from .validation import ModelRef


@dataclass
class ServiceContext:
    service: str
    settings: Settings
    manifest: Manifest
    store: ModelStore
    runtime: Runtime

    def model(self, ref: ModelRef) -> Compiled:
        """A compiled model for this request, once the worker is ready; compiled under the engine lock."""
        self.runtime.wait_ready()
        with self.runtime.lock:
            return self.store.get(ref)

    def shipped(self, model_id: str) -> Compiled:
        return self.model(ModelRef("id", model_id))
