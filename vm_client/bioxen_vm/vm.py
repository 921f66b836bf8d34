"""The BioXen VM API: lightweight biological VMs that hold no engine and ask the services.

::

    vm = create_bio_vm("ecoli_vm_1", "ecoli", vm_type="enhanced")
    vm.start()
    result = vm.execute_biological_process("metabolic_flux_analysis")
    vm.destroy()

VM types: ``basic`` (service computation with honest degraded fallback), ``lightweight`` (service
client only: no symbolic fallback, a service outage raises) and ``enhanced`` (basic plus result
caching; results carry ``cache_hit``). Lifecycle: created -> running <-> paused -> destroyed.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time

from bioxen_common.manifest import default_manifest

from .client import BiologicalComputationClient
from .hypervisor import BiologicalComputationHypervisor

log = logging.getLogger(__name__)

BIOLOGICAL_TYPES = ("ecoli", "yeast", "syn3a", "minimal_cell", "orthogonal")
VM_TYPES = ("basic", "lightweight", "enhanced")
CREATED, RUNNING, PAUSED, DESTROYED = "created", "running", "paused", "destroyed"


class VMStateError(RuntimeError):
    """An operation the VM's current lifecycle state does not allow."""


def get_chassis_config(chassis_type: str) -> dict:
    """The chassis' metabolic model, default objective, kinetic programs and capabilities (manifest)."""
    manifest = default_manifest()
    chassis = manifest.chassis_for(chassis_type)
    model = manifest.metabolic_models[chassis.metabolic_model]
    return {"chassis_type": chassis_type, "metabolic_model": chassis.metabolic_model,
            "organism": model.organism, "default_objective": chassis.objective,
            "kinetic_programs": list(chassis.kinetic_programs), "capabilities": list(chassis.capabilities),
            "note": chassis.note}


class BasicBiologicalVM:
    """A VM whose computations run on the centralized services.

    config keys: ``enable_service_computation`` (default True; False runs every process
    symbolically), ``computation_service_urls`` ({"static": url(s), "dynamic": url(s)}), ``strict``,
    ``timeout``, ``retries``, and the process context defaults ``objective``, ``media_constraints``,
    ``kinetic_code``, ``initial_conditions``, ``time_start``, ``time_end``, ``time_points``, ``dfba``.
    """

    vm_type = "basic"
    strict_default: bool | None = None  # None: the client's settings decide (BIOXEN_STRICT)
    CONTEXT_KEYS = ("objective", "media_constraints", "kinetic_code", "initial_conditions", "time_start",
                    "time_end", "time_points", "dfba")

    def __init__(self, vm_id: str, biological_type: str, config: dict | None = None, *,
                 client: BiologicalComputationClient | None = None):
        self.vm_id = vm_id
        self.biological_type = biological_type
        self.config = dict(config or {})
        self.chassis = get_chassis_config(biological_type)
        self.state = CREATED
        self.created_at = time.time()
        self._started_at: float | None = None
        self._running_seconds = 0.0
        self._lock = threading.Lock()
        self._usage = {"executions": 0, "service_computations": 0, "symbolic_executions": 0,
                       "degraded_executions": 0, "errors": 0, "execution_seconds": 0.0}
        self.service_computation = bool(self.config.get("enable_service_computation", True))
        urls = self.config.get("computation_service_urls") or {}
        strict = self.config.get("strict", self.strict_default)
        self.hypervisor = BiologicalComputationHypervisor(
            client, static_service_url=urls.get("static"), dynamic_service_url=urls.get("dynamic"),
            strict=strict, timeout=self.config.get("timeout"), retries=self.config.get("retries"))

    # -- lifecycle -----------------------------------------------------------------------------------
    def _transition(self, allowed: tuple[str, ...], new: str, action: str) -> None:
        with self._lock:
            if self.state not in allowed:
                raise VMStateError(f"cannot {action} VM {self.vm_id!r} in state {self.state!r} "
                                   f"(allowed from: {', '.join(allowed)})")
            now = time.monotonic()
            if self.state == RUNNING and self._started_at is not None:
                self._running_seconds += now - self._started_at
            self._started_at = now if new == RUNNING else None
            self.state = new
        log.info("VM %s (%s): %s", self.vm_id, self.biological_type, new)

    def start(self) -> bool:
        self._transition((CREATED,), RUNNING, "start")
        return True

    def pause(self) -> bool:
        self._transition((RUNNING,), PAUSED, "pause")
        return True

    def resume(self) -> bool:
        self._transition((PAUSED,), RUNNING, "resume")
        return True

    def destroy(self) -> bool:
        self._transition((CREATED, RUNNING, PAUSED), DESTROYED, "destroy")
        self.hypervisor.close()
        return True

    def __enter__(self):
        if self.state == CREATED:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.state != DESTROYED:
            self.destroy()

    # -- status ----------------------------------------------------------------------------------------
    def uptime_seconds(self) -> float:
        with self._lock:
            extra = time.monotonic() - self._started_at if self._started_at is not None else 0.0
            return self._running_seconds + extra

    def get_status(self) -> dict:
        return {"vm_id": self.vm_id, "biological_type": self.biological_type, "vm_type": self.vm_type,
                "state": self.state, "running": self.state == RUNNING, "created_at": self.created_at,
                "uptime_seconds": self.uptime_seconds(), "chassis": self.chassis,
                "service_computation_enabled": self.service_computation}

    def get_resource_usage(self) -> dict:
        """What this VM has used, counted by the VM itself (it holds no engine, so no CPU or memory
        figures are claimed for computations that ran on the services)."""
        with self._lock:
            usage = dict(self._usage)
        usage["uptime_seconds"] = self.uptime_seconds()
        return usage

    def get_computation_service_status(self) -> dict:
        status = self.hypervisor.client.service_status() if self.service_computation else {}
        return {"service_computation_enabled": self.service_computation, "services": status,
                "static_service": bool(status.get("static", {}).get("healthy")),
                "dynamic_service": bool(status.get("dynamic", {}).get("healthy"))}

    # -- execution -------------------------------------------------------------------------------------
    def process_context(self, overrides: dict | None = None) -> dict:
        ctx = {"vm_id": self.vm_id, "biological_type": self.biological_type,
               "objective": self.chassis["default_objective"], "metabolic_model": self.chassis["metabolic_model"]}
        ctx.update({k: v for k, v in self.config.items() if k in self.CONTEXT_KEYS})
        ctx.update(overrides or {})
        return ctx

    def _execute(self, process_code: str, ctx: dict) -> dict:
        if not self.service_computation:
            return self.hypervisor.execute_symbolic(process_code, ctx)
        return self.hypervisor.execute_biological_process(process_code, ctx)

    def execute_biological_process(self, process_code: str, context: dict | None = None) -> dict:
        if self.state != RUNNING:
            raise VMStateError(f"VM {self.vm_id!r} is {self.state}; start() or resume() it before executing "
                               "processes")
        if not isinstance(process_code, str) or not process_code.strip():
            raise ValueError("process_code must be a non-empty string")
        result = self._execute(process_code, self.process_context(context))
        self._count(result)
        return result

    def _count(self, result: dict) -> None:
        with self._lock:
            usage = self._usage
            usage["executions"] += 1
            usage["execution_seconds"] += result.get("execution_time", 0.0)
            if result.get("status") == "error":
                usage["errors"] += 1
            elif result.get("degraded"):
                usage["degraded_executions"] += 1
            elif result.get("execution_type") == "symbolic":
                usage["symbolic_executions"] += 1
            else:
                usage["service_computations"] += 1


class LightweightBiologicalVM(BasicBiologicalVM):
    """Service client only: no symbolic fallback, so a service outage raises ServiceUnavailable."""

    vm_type = "lightweight"
    strict_default = True


class EnhancedBiologicalVM(BasicBiologicalVM):
    """Basic VM plus result caching (``enable_computation_caching``, default True; ``cache_size``).

    Only successful service results are cached (never degraded or failed ones); every result says
    ``cache_hit``. Computations are pure, so the same process code and context give the same answer.
    """

    vm_type = "enhanced"

    def __init__(self, vm_id: str, biological_type: str, config: dict | None = None, **kwargs):
        super().__init__(vm_id, biological_type, config, **kwargs)
        self.caching = bool(self.config.get("enable_computation_caching", True))
        self.cache_size = int(self.config.get("cache_size", 128))
        self._cache: dict[str, dict] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    def _execute(self, process_code: str, ctx: dict) -> dict:
        if not self.caching:
            return {**super()._execute(process_code, ctx), "cache_hit": False}
        key = json.dumps([process_code, ctx], sort_keys=True, default=str)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.cache_hits += 1
        if cached is not None:
            return {**copy.deepcopy(cached), "cache_hit": True, "execution_time": 0.0}
        result = super()._execute(process_code, ctx)
        with self._lock:
            self.cache_misses += 1
            if result.get("status") == "success" and result.get("execution_type") != "symbolic":
                if len(self._cache) >= self.cache_size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = copy.deepcopy(result)
        return {**result, "cache_hit": False}

    def get_resource_usage(self) -> dict:
        usage = super().get_resource_usage()
        with self._lock:
            usage.update(cache_entries=len(self._cache), cache_hits=self.cache_hits,
                         cache_misses=self.cache_misses)
        return usage

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()


VM_CLASSES = {"basic": BasicBiologicalVM, "lightweight": LightweightBiologicalVM,
              "enhanced": EnhancedBiologicalVM}


def create_bio_vm(vm_id: str, biological_type: str, vm_type: str = "basic", config: dict | None = None,
                  **kwargs) -> BasicBiologicalVM:
    """A new VM (state ``created``; call ``start()``)."""
    if not isinstance(vm_id, str) or not vm_id.strip():
        raise ValueError("vm_id must be a non-empty string")
    if biological_type not in BIOLOGICAL_TYPES:
        raise ValueError(f"unsupported biological_type {biological_type!r}; supported: "
                         f"{', '.join(BIOLOGICAL_TYPES)}")
    if vm_type not in VM_TYPES:
        raise ValueError(f"unsupported vm_type {vm_type!r}; supported: {', '.join(VM_TYPES)}")
    return VM_CLASSES[vm_type](vm_id, biological_type, config, **kwargs)
