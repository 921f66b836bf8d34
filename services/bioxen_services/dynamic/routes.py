"""HTTP routes of the dynamic kinetic service: parse, call the engine, serialize."""

from __future__ import annotations

import math

from flask import Blueprint, current_app

from ..catalog import add_catalog_routes
from ..errors import LimitExceeded, ValidationError
from ..validation import (ModelRef, check_fields, check_number, get_bool, get_model_ref, get_number,
                          get_number_map, get_object, get_str, get_str_list, reject_model_path)
from ..web import json_response, read_json
from . import engine
from .comp import inline_external_models
from .engine import SimSpec

bp = Blueprint("dynamic", __name__)

DEFAULT_PROGRAM = "gene_expression"
SIM_FIELDS = ("model", "start", "end", "points", "selections", "parameters", "initial_conditions",
              "integrator", "seed", "species_values", "absolute_tolerance", "relative_tolerance")
ENSEMBLE_FIELDS = ("repetitions", "return_runs")


def _ctx():
    return current_app.extensions["bioxen"]


def _tolerance(body: dict, key: str) -> float | None:
    return get_number(body, key, None, minimum=0, exclusive_minimum=True)


def _values_spec(body: dict) -> dict:
    """The fields that say what a species id means and what the run starts from."""
    return dict(parameters=get_number_map(body, "parameters"),
                initial_conditions=get_number_map(body, "initial_conditions", minimum=0),
                species_values=get_str(body, "species_values", "concentrations",
                                       choices=engine.SPECIES_VALUES))


def _spec(body: dict, max_points: int, ensembles: bool = False) -> SimSpec:
    spec = SimSpec(
        start=get_number(body, "start", 0.0),
        end=get_number(body, "end", 10.0),
        points=get_number(body, "points", 100, integer=True),
        selections=get_str_list(body, "selections", None),
        integrator=get_str(body, "integrator", "cvode", choices=engine.INTEGRATORS),
        seed=get_number(body, "seed", None, minimum=0, maximum=2**31 - 1, integer=True),
        absolute_tolerance=_tolerance(body, "absolute_tolerance"),
        relative_tolerance=_tolerance(body, "relative_tolerance"),
        **_values_spec(body),
    )
    engine.check_time_span(spec.start, spec.end, spec.points, max_points)
    if spec.integrator != "cvode" and (spec.absolute_tolerance or spec.relative_tolerance):
        raise ValidationError("absolute_tolerance and relative_tolerance apply to the cvode integrator only")
    if ensembles:
        spec.repetitions = get_number(body, "repetitions", None, minimum=1, integer=True)
        spec.return_runs = get_bool(body, "return_runs", False)
        if spec.repetitions is not None:
            engine.check_ensemble(spec.repetitions, spec.points, len(spec.selections or ()),
                                  spec.return_runs)
        elif spec.return_runs:
            raise ValidationError("return_runs needs repetitions")
    return spec


def _model(body: dict) -> ModelRef:
    ref = get_model_ref(body, ("sbml", "antimony"), files=True)
    if ref.files:  # one self-contained document: its sha256 covers the files
        ref = ModelRef("sbml", inline_external_models(ref.value, dict(ref.files)))
    return ref


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
@bp.post("/compute/kinetic")
def compute_kinetic():
    ctx = _ctx()
    body = read_json(ctx.settings)
    reject_model_path(body)
    code = get_str(body, "kinetic_code", None)
    if code is None or not code.strip():
        ref = ModelRef("id", DEFAULT_PROGRAM)
    else:
        fmt = "sbml" if code.lstrip().startswith("<") else "antimony"
        ref = get_model_ref({"model": {fmt: code}}, ("sbml", "antimony"))
    spec = SimSpec(start=get_number(body, "time_start", 0.0), end=get_number(body, "time_end", 10.0),
                   points=get_number(body, "time_points", 100, integer=True),
                   initial_conditions=get_number_map(body, "initial_conditions", minimum=0),
                   default_output="floating")  # the phase-1 answer lists the floating species
    engine.check_time_span(spec.start, spec.end, spec.points, ctx.settings.max_time_points)
    result = ctx.compute("simulate", engine.simulate, ref, spec)
    return json_response({
        "computation_type": "dynamic_kinetic",
        "status": "success",
        "time_vector": result["time"],
        "species_trajectories": result["trajectories"],
        # the default selections are the floating species, in the model's order
        "final_state": [values[-1] for values in result["trajectories"].values()],
        "species": list(result["trajectories"]),
        "computation_service": "centralized_tellurium",
        "program_key": result["model"]["sha256"],
        "vm_id": body.get("vm_id"),
        "process_code": body.get("process_code"),
        "execution_result": "computed_trajectory",
    })


# -- v1 ------------------------------------------------------------------------------------------
def _describe(ctx, model_id: str) -> dict:
    entry = ctx.manifest.kinetic_programs[model_id]
    return {"format": entry.format, "description": entry.description}


def describe_program(program, detail: bool) -> dict:
    """Engine side of the catalog: species (and parameters, reactions) of a compiled program."""
    return engine.describe(program) if detail else {"floating_species": engine.species_ids(program.rr)}


add_catalog_routes(bp, _describe, describe_program)


@bp.post("/v1/simulate")
def simulate():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, (*SIM_FIELDS, *ENSEMBLE_FIELDS))
    spec = _spec(body, ctx.settings.max_time_points, ensembles=True)
    _check_result_size(spec, ctx.settings, (spec.repetitions or 1) if spec.return_runs else 1)
    return json_response(ctx.compute("simulate", engine.simulate, _model(body), spec))


@bp.post("/v1/steady-state")
def steady_state():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, ("model", "parameters", "initial_conditions", "species_values"))
    spec = SimSpec(**_values_spec(body))
    return json_response(ctx.compute("steady_state", engine.steady_state, _model(body), spec))


def _grid(body: dict, limit: int) -> dict[str, list[float]]:
    grid = get_object(body, "grid")
    if not grid:
        raise ValidationError("grid must name at least one parameter: {\"k\": [values...]}")
    total = 1
    out = {}
    for pid, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValidationError(f"grid[{pid!r}] must be a non-empty array of numbers")
        out[pid] = [check_number(v, f"grid[{pid!r}]") for v in values]
        total *= len(values)
        if total > limit:
            break
    if total > limit:
        raise LimitExceeded(f"the scan grid has more than {limit} points (the limit); split it "
                            "(the client does this)")
    return out


@bp.post("/v1/scan")
def scan():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, (*SIM_FIELDS, "grid", "output"))
    spec = _spec(body, ctx.settings.max_time_points)
    grid = _grid(body, ctx.settings.max_scan_points)
    output = get_str(body, "output", "final", choices=("final", "trajectories"))
    if output == "trajectories" and math.prod(len(v) for v in grid.values()) * spec.points > \
            ctx.settings.max_scan_points * 100:
        raise LimitExceeded("trajectories for this many grid points x time points are too large; "
                            "ask for output \"final\" or fewer points")
    if output == "trajectories":
        _check_result_size(spec, ctx.settings, math.prod(len(v) for v in grid.values()))
    return json_response(ctx.compute("scan", engine.scan, _model(body), spec, grid, output))
