"""Routing of a VM's biological processes to the centralized services (phase-1 rules).

=====================================================  ===================  =======================
process code                                           route                service
=====================================================  ===================  =======================
starts ``dynamic_fba_`` or ``metabolic_dfba_``         dFBA                 static: POST /v1/dfba
starts ``metabolic_`` or contains ``flux``             metabolic (FBA)      static: /compute/metabolic
starts ``kinetic_`` or contains ``dynamic``            kinetic (ODE)        dynamic: /compute/kinetic
anything else                                          symbolic (in the VM)  none
=====================================================  ===================  =======================

When a service cannot be reached the process still runs symbolically, but the result says so:
``execution_type: "symbolic"``, ``degraded: true``, ``degraded_reason``, a warning in the log and
``bioxen_vm_fallbacks_total`` incremented; no numbers are made up. ``strict=True`` (default: the
client's settings, ``BIOXEN_STRICT=1``) raises :class:`~bioxen_vm.errors.ServiceUnavailable` instead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import metrics
from .client import BiologicalComputationClient
from .errors import ComputationLost, ServiceError, ServiceTimeout, ServiceUnavailable

log = logging.getLogger(__name__)

STATIC = "centralized_static"
DYNAMIC = "centralized_dynamic"
SYMBOLIC = "vm_local_symbolic"
SERVICE_BASED = "service_based_computation"


@dataclass(frozen=True)
class Route:
    kind: str        # metrics label: dfba | metabolic | kinetic | symbolic
    service: str | None
    computation_service: str


ROUTES = {
    "dfba": Route("dfba", "static", STATIC),
    "metabolic": Route("metabolic", "static", STATIC),
    "kinetic": Route("kinetic", "dynamic", DYNAMIC),
    "symbolic": Route("symbolic", None, SYMBOLIC),
}

#: the default batch culture of dFBA process codes (glucose-limited, acetate tracked)
DEFAULT_DFBA = {"biomass": 0.05, "concentrations": {"EX_glc__D_e": 10.0, "EX_ac_e": 0.0},
                "uptake": {"EX_glc__D_e": {"vmax": 10.0, "km": 0.015}}, "end": 10.0, "points": 101}


def route(process_code: str) -> Route:
    code = process_code or ""
    if code.startswith(("dynamic_fba_", "metabolic_dfba_")):
        return ROUTES["dfba"]
    if code.startswith("metabolic_") or "flux" in code:
        return ROUTES["metabolic"]
    if code.startswith("kinetic_") or "dynamic" in code:
        return ROUTES["kinetic"]
    return ROUTES["symbolic"]


# -- requests and summaries per route -----------------------------------------------------------------
def _metabolic_request(code: str, ctx: dict) -> dict:
    body = {"chassis_type": ctx.get("biological_type", "ecoli"), "vm_id": ctx.get("vm_id"), "process_code": code}
    if ctx.get("objective"):
        body["objective"] = ctx["objective"]
    if ctx.get("media_constraints"):
        body["constraints"] = {rid: list(pair) for rid, pair in ctx["media_constraints"].items()}
    return body


def _metabolic_output(answer: dict) -> dict:
    fluxes = answer.get("flux_state") or {}
    return {"growth_rate": answer.get("optimal_objective"), "objective": answer.get("objective"),
            "solver_status": answer.get("status"), "model": answer.get("model_key"),
            "active_reactions": sum(1 for v in fluxes.values() if abs(v) > 1e-9)}


def _kinetic_request(code: str, ctx: dict) -> dict:
    body = {"vm_id": ctx.get("vm_id"), "process_code": code}
    for key in ("kinetic_code", "initial_conditions", "time_start", "time_end", "time_points"):
        if ctx.get(key) is not None:
            body[key] = ctx[key]
    return body


def _kinetic_output(answer: dict) -> dict:
    species = answer.get("species") or []
    final = answer.get("final_state") or []
    return {"final_state": dict(zip(species, final)), "species": species,
            "time_end": (answer.get("time_vector") or [None])[-1]}


def _dfba_request(code: str, ctx: dict) -> dict:
    spec = {**DEFAULT_DFBA, **(ctx.get("dfba") or {})}
    if "model" not in spec:
        spec["model"] = {"id": ctx.get("metabolic_model", "e_coli_core")}
    if ctx.get("time_end") is not None and "end" not in (ctx.get("dfba") or {}):
        spec["end"] = ctx["time_end"]
    return spec


def _last(series):
    return series[-1] if isinstance(series, list) and series else None


def _dfba_output(answer: dict) -> dict:
    return {"final_time": _last(answer.get("time")), "final_biomass": _last(answer.get("biomass")),
            "final_concentrations": {k: _last(v) for k, v in (answer.get("concentrations") or {}).items()},
            "final_growth_rate": _last(answer.get("growth_rate")), "solver_status": _last(answer.get("status"))}


class BiologicalComputationHypervisor:
    """Executes a VM's process codes: on the services where the route says so, else symbolically."""

    def __init__(self, client: BiologicalComputationClient | None = None, *, static_service_url=None,
                 dynamic_service_url=None, strict: bool | None = None, **client_options):
        self._owns_client = client is None
        self.client = client or BiologicalComputationClient(static_service_url, dynamic_service_url,
                                                            **client_options)
        self.strict = self.client.settings.strict if strict is None else strict

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> "BiologicalComputationHypervisor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, r: Route, code: str, ctx: dict) -> tuple[dict, dict]:
        if r.kind == "metabolic":
            answer = self.client.request("static", "POST", "/compute/metabolic", _metabolic_request(code, ctx))
            return answer, _metabolic_output(answer)
        if r.kind == "kinetic":
            answer = self.client.post("dynamic", "/compute/kinetic", _kinetic_request(code, ctx))
            return answer, _kinetic_output(answer)
        answer = self.client.post("static", "/v1/dfba", _dfba_request(code, ctx))
        return answer, _dfba_output(answer)

    def execute_biological_process(self, process_code: str, vm_context: dict | None = None) -> dict:
        """Run one process code; the result has status, execution_type, computation_service,
        process_code, biological_output, service_results and the measured execution_time."""
        return self._execute(route(process_code), process_code, vm_context)

    def execute_symbolic(self, process_code: str, vm_context: dict | None = None) -> dict:
        """Symbolic execution by choice (service computation disabled): not degraded, no numbers."""
        return self._execute(ROUTES["symbolic"], process_code, vm_context)

    def _execute(self, r: Route, process_code: str, vm_context: dict | None) -> dict:
        ctx = dict(vm_context or {})
        vm_id = str(ctx.get("vm_id", "unknown"))
        started = time.perf_counter()
        result = {"process_code": process_code, "vm_id": vm_id, "service_results": None}
        outcome = "success"
        try:
            if r.service is None:
                result.update(_symbolic(process_code, ctx), status="success")
            else:
                try:
                    answer, output = self._call(r, process_code, ctx)
                except ServiceUnavailable as exc:
                    if self.strict:
                        outcome = "error"
                        raise
                    outcome = "fallback"
                    reason = ("service_timeout" if isinstance(exc, ServiceTimeout) else
                              "computation_lost" if isinstance(exc, ComputationLost) else "service_unavailable")
                    metrics.FALLBACKS.labels(vm_id, reason).inc()
                    log.warning("VM %s: %s unreachable, process %s degraded to symbolic execution: %s",
                                vm_id, r.computation_service, process_code, exc)
                    result.update(_symbolic(process_code, ctx), status="degraded", degraded=True,
                                  degraded_reason=f"{reason}: {exc}", intended_service=r.computation_service)
                except ServiceError as exc:
                    outcome = "error"
                    result.update(status="error", execution_type=SERVICE_BASED,
                                  computation_service=r.computation_service, biological_output=None,
                                  error=exc.message, error_code=exc.code, http_status=exc.status)
                else:
                    result.update(status="success", execution_type=SERVICE_BASED,
                                  computation_service=r.computation_service, biological_output=output,
                                  service_results=answer, degraded=False)
        finally:
            elapsed = time.perf_counter() - started
            metrics.COMPUTATIONS.labels(vm_id, r.kind, outcome).inc()
            metrics.COMPUTATION_SECONDS.labels(r.kind).observe(elapsed)
        result["execution_time"] = elapsed
        return result


def _symbolic(process_code: str, ctx: dict) -> dict:
    """Symbolic execution: the VM records what the process is, and computes nothing."""
    return {"execution_type": "symbolic", "computation_service": SYMBOLIC,
            "biological_output": {"symbolic": True, "process": process_code,
                                  "biological_type": ctx.get("biological_type"),
                                  "note": "executed symbolically in the VM: no numerical result"}}
