"""HTTP operations of the dynamic kinetic service. Each takes its request already validated against
its declaration (:mod:`..api.dynamic`), checks the service's size limits (422), makes one call into the
data plane, and answers."""

from __future__ import annotations

import math

from ..api.dynamic import (
    KineticProgramDetail,
    KineticProgramList,
    Phase1KineticAnswer,
    Phase1KineticRequest,
    ScanAnswer,
    ScanRequest,
    SimulateAnswer,
    SimulateRequest,
    SteadyStateAnswer,
    SteadyStateRequest,
)
from ..api.operations import ApiBlueprint
from ..catalog import add_catalog_routes
from ..errors import LimitExceeded
from ..modelref import ModelRef
from ..omex.routes import add_omex_route
from . import engine
from .comp import inline_external_models
from .engine import SimSpec

bp = ApiBlueprint("dynamic", __name__)

DEFAULT_PROGRAM = "gene_expression"


def model_ref(req) -> ModelRef:
    ref = req.model.ref()
    if ref.files:  # one self-contained document: its sha256 covers the files
        ref = ModelRef("sbml", inline_external_models(ref.value, dict(ref.files)))
    return ref


def values(req) -> dict:
    return dict(parameters=dict(req.parameters), initial_conditions=dict(req.initial_conditions),
                species_values=req.species_values)


def sim_spec(req, max_points: int) -> SimSpec:
    """The engine's run description of a validated time-course request, within the point limit (422)."""
    if req.points > max_points:
        raise LimitExceeded(f"{req.points} time points exceed the limit of {max_points}")
    return SimSpec(start=req.start, end=req.end, points=req.points, selections=req.selections,
                   integrator=req.integrator, seed=req.seed, absolute_tolerance=req.absolute_tolerance,
                   relative_tolerance=req.relative_tolerance, repetitions=getattr(req, "repetitions", None),
                   return_runs=getattr(req, "return_runs", False), **values(req))


def _check_result_size(spec: SimSpec, settings, runs: int = 1) -> None:
    """Refuse answers too large to hold: selections x points (x grid points) numbers. Without
    selections the engine checks against the model's species count."""
    if spec.selections is not None:
        values = (len(spec.selections) + 1) * spec.points * runs
        if values > settings.max_result_values:
            raise LimitExceeded(f"the answer would hold {values} numbers ({len(spec.selections)} selections x "
                                f"{spec.points} points{f' x {runs} runs' if runs > 1 else ''}), above the limit "
                                f"of {settings.max_result_values}; ask for fewer points or selections")


# -- phase-1 contract ----------------------------------------------------------------------------
@bp.operation("post", "/compute/kinetic", request=Phase1KineticRequest, answer=Phase1KineticAnswer,
              summary="phase-1 simulation of an Antimony program",
              description="The phase-1 contract, kept field for field. New clients use POST /v1/simulate.",
              example={"time_end": 10, "time_points": 100})
def compute_kinetic(plane, req: Phase1KineticRequest):
    code = req.kinetic_code
    if code is None or not code.strip():
        ref = ModelRef("id", DEFAULT_PROGRAM)
    else:
        ref = ModelRef("sbml" if code.lstrip().startswith("<") else "antimony", code)
    if req.time_points > plane.settings.max_time_points:
        raise LimitExceeded(f"{req.time_points} time points exceed the limit of {plane.settings.max_time_points}")
    spec = SimSpec(start=req.time_start, end=req.time_end, points=req.time_points,
                   initial_conditions=dict(req.initial_conditions),
                   default_output="floating")  # the phase-1 answer lists the floating species
    result = plane.compute("simulate", engine.simulate, ref, spec)
    return {
        "computation_type": "dynamic_kinetic",
        "status": "success",
        "time_vector": result["time"],
        "species_trajectories": result["trajectories"],
        # the default selections are the floating species, in the model's order
        "final_state": [values[-1] for values in result["trajectories"].values()],
        "species": list(result["trajectories"]),
        "computation_service": "centralized_tellurium",
        "program_key": result["model"]["sha256"],
        "vm_id": req.vm_id,
        "process_code": req.process_code,
        "execution_result": "computed_trajectory",
    }


# -- v1 ------------------------------------------------------------------------------------------
def _describe(plane, model_id: str) -> dict:
    entry = plane.manifest.kinetic_programs[model_id]
    return {"format": entry.format, "description": entry.description}


def describe_program(program, detail: bool) -> dict:
    """Engine side of the catalog: species (and parameters, reactions) of a compiled program."""
    return engine.describe(program) if detail else {"floating_species": engine.species_ids(program.rr)}


add_catalog_routes(bp, _describe, describe_program, listing=KineticProgramList, detail=KineticProgramDetail,
                   kind="kinetic program", example="gene_expression")
add_omex_route(bp, "dynamic")


@bp.operation("post", "/v1/simulate", request=SimulateRequest, answer=SimulateAnswer,
              summary="time course (ODE or Gillespie), or an ensemble of runs",
              description="One run answers trajectories; with repetitions, the mean and sample standard deviation "
                          "per point of that many runs (and every run with return_runs).",
              example={"model": {"id": "gene_expression"}, "end": 10, "points": 11})
def simulate(plane, req: SimulateRequest):
    spec = sim_spec(req, plane.settings.max_time_points)
    if spec.repetitions is not None:
        engine.check_ensemble(spec.repetitions, spec.points, len(spec.selections or ()), spec.return_runs)
    _check_result_size(spec, plane.settings, (spec.repetitions or 1) if spec.return_runs else 1)
    return plane.compute("simulate", engine.simulate, model_ref(req), spec)


@bp.operation("post", "/v1/steady-state", request=SteadyStateRequest, answer=SteadyStateAnswer,
              summary="steady state", description="Species values and reaction rates at a steady state found "
                                                  "from the initial values (422 when none is found).",
              example={"model": {"id": "gene_expression"}})
def steady_state(plane, req: SteadyStateRequest):
    return plane.compute("steady_state", engine.steady_state, model_ref(req), SimSpec(**values(req)))


@bp.operation("post", "/v1/scan", request=ScanRequest, answer=ScanAnswer, summary="parameter grid scan",
              description="A time course at every combination of the grid's parameter values; the final "
                          "values or whole trajectories of each.",
              example={"model": {"id": "gene_expression"}, "grid": {"k_translation": [0.1, 0.2]}, "end": 10,
                       "points": 11})
def scan(plane, req: ScanRequest):
    settings = plane.settings
    spec = sim_spec(req, settings.max_time_points)
    size = math.prod(len(v) for v in req.grid.values())
    if size > settings.max_scan_points:
        raise LimitExceeded(f"the scan grid has more than {settings.max_scan_points} points (the limit); split it "
                            "(the client does this)")
    if req.output == "trajectories":
        if size * spec.points > settings.max_scan_points * 100:
            raise LimitExceeded("trajectories for this many grid points x time points are too large; "
                                "ask for output \"final\" or fewer points")
        _check_result_size(spec, settings, size)
    return plane.compute("scan", engine.scan, model_ref(req), spec, {k: list(v) for k, v in req.grid.items()},
                         req.output)
