"""HTTP routes of the static metabolic service: parse, call the engine, serialize."""

from __future__ import annotations

from flask import Blueprint, current_app

from ..catalog import add_catalog_routes
from ..errors import LimitExceeded, ValidationError
from ..validation import (MAX_BOUND, check_fields, get_bool, get_bounds_map, get_model_ref, get_number,
                          get_number_map, get_object, get_str, get_str_list, reject_model_path)
from ..web import json_response, read_json
from . import engine
from .engine import Changes, Deletion

bp = Blueprint("static", __name__)

PHASE1_DEFAULT_OBJECTIVE = "BIOMASS_Ecoli_core_w_GAM"
CHANGE_FIELDS = ("model", "objective", "bounds", "medium", "knockouts")


def _ctx():
    return current_app.extensions["bioxen"]


def _changes(body: dict) -> Changes:
    knockouts = get_object(body, "knockouts", {})
    check_fields(knockouts, ("genes", "reactions"))
    medium = body.get("medium")
    return Changes(
        objective=get_str(body, "objective", None),
        bounds=get_bounds_map(body, "bounds"),
        medium=None if medium is None else get_number_map(body, "medium", minimum=0, magnitude=MAX_BOUND),
        gene_knockouts=get_str_list(knockouts, "genes", []),
        reaction_knockouts=get_str_list(knockouts, "reactions", []),
    )


def _model(body: dict):
    return _ctx().model(get_model_ref(body, ("sbml",)))


# -- phase-1 contract ----------------------------------------------------------------------------
@bp.post("/compute/metabolic")
def compute_metabolic():
    ctx = _ctx()
    body = read_json(ctx.settings)
    reject_model_path(body)
    chassis_type = get_str(body, "chassis_type", "base")
    try:
        chassis = ctx.manifest.chassis_for(chassis_type)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    compiled = ctx.shipped(chassis.metabolic_model)
    objective = get_str(body, "objective", PHASE1_DEFAULT_OBJECTIVE)
    if objective not in compiled.engine.reactions:
        objective = None  # phase 1: fall back to the model's own objective
    changes = Changes(objective=objective, bounds=get_bounds_map(body, "constraints"))
    result = ctx.runtime.compute("fba", engine.run_fba, compiled.engine, changes)
    return json_response({
        "computation_type": "static_metabolic",
        "status": result["status"],
        "optimal_objective": result["objective_value"],
        "objective": result["objective"],
        "flux_state": result["fluxes"],
        "computation_service": "centralized_cobrapy",
        "model_key": compiled.id,
        "chassis_type": chassis_type,
        "vm_id": body.get("vm_id"),
        "process_code": body.get("process_code"),
        "execution_result": "computed_state",
    })


# -- v1 ------------------------------------------------------------------------------------------
def _describe(ctx, model_id: str, compiled, detail: bool) -> dict:
    entry = ctx.manifest.metabolic_models[model_id]
    return {"organism": entry.organism, "description": entry.description, "default_objective": entry.objective,
            "chassis": sorted(c.name for c in ctx.manifest.chassis.values() if c.metabolic_model == model_id),
            **engine.describe_model(compiled.engine, detail=detail)}


add_catalog_routes(bp, _describe)


@bp.post("/v1/fba")
def fba():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, (*CHANGE_FIELDS, "method", "fluxes"))
    method = get_str(body, "method", "fba", choices=("fba", "pfba"))
    flux_ids = get_str_list(body, "fluxes", None)
    compiled = _model(body)
    changes = _changes(body)
    result = ctx.runtime.compute(method, engine.run_fba, compiled.engine, changes, method, flux_ids)
    result["model"] = compiled.describe()
    return json_response(result)


@bp.post("/v1/fva")
def fva():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, (*CHANGE_FIELDS, "reactions", "fraction_of_optimum", "loopless"))
    reactions = get_str_list(body, "reactions", None)
    fraction = get_number(body, "fraction_of_optimum", 1.0, minimum=0.0, maximum=1.0)
    loopless = get_bool(body, "loopless", False)
    compiled = _model(body)
    changes = _changes(body)
    result = ctx.runtime.compute("fva", engine.run_fva, compiled.engine, changes, reactions, fraction, loopless)
    result["model"] = compiled.describe()
    return json_response(result)


def _deletions(body: dict, model) -> list[Deletion]:
    deletions: list[Deletion] = []
    for key, kind in (("genes", "gene"), ("reactions", "reaction")):
        value = body.get(key)
        if value == "all":
            ids = [g.id for g in (model.genes if kind == "gene" else model.reactions)]
        else:
            ids = get_str_list(body, key, [])
        deletions += [Deletion(genes=[i]) if kind == "gene" else Deletion(reactions=[i]) for i in ids]
    sets = body.get("sets", [])
    if not isinstance(sets, list):
        raise ValidationError("sets must be an array of {\"genes\": [...], \"reactions\": [...]}")
    for i, item in enumerate(sets):
        if not isinstance(item, dict):
            raise ValidationError(f"sets[{i}] must be an object with genes and/or reactions")
        check_fields(item, ("genes", "reactions"))
        deletion = Deletion(get_str_list(item, "genes", []), get_str_list(item, "reactions", []))
        if not deletion.genes and not deletion.reactions:
            raise ValidationError(f"sets[{i}] deletes nothing")
        deletions.append(deletion)
    if not deletions:
        raise ValidationError("no deletions given: use genes, reactions (a list or \"all\") or sets")
    return deletions


@bp.post("/v1/knockouts")
def knockouts():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, ("model", "objective", "bounds", "medium", "genes", "reactions", "sets"))
    compiled = _model(body)
    deletions = _deletions(body, compiled.engine)
    if len(deletions) > ctx.settings.max_knockouts:
        raise LimitExceeded(f"{len(deletions)} deletions in one request exceed the limit of "
                            f"{ctx.settings.max_knockouts}; split the batch (the client does this)")
    changes = _changes({k: body[k] for k in ("objective", "bounds", "medium") if k in body})
    result = ctx.runtime.compute("knockouts", engine.run_knockouts, compiled.engine, changes, deletions)
    result["model"] = compiled.describe()
    return json_response(result)
