"""HTTP routes of the static metabolic service: parse, call the engine, serialize."""

from __future__ import annotations

from flask import Blueprint, current_app

from ..catalog import add_catalog_routes
from ..errors import LimitExceeded, ValidationError
from ..validation import (MAX_BOUND, ModelRef, check_fields, get_bool, get_bounds_map, get_model_ref, get_number,
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
    return get_model_ref(body, ("sbml",))


def phase1_fba(model, objective: str | None, constraints: dict) -> dict:
    """Engine side of ``/compute/metabolic``: phase 1 falls back to the model's own objective when
    the requested one is not a reaction of the chassis' model."""
    if objective is not None and objective not in model.reactions:
        objective = None
    return engine.run_fba(model, Changes(objective=objective, bounds=constraints))


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
    objective = get_str(body, "objective", PHASE1_DEFAULT_OBJECTIVE)
    constraints = get_bounds_map(body, "constraints")
    result = ctx.compute("fba", phase1_fba, ModelRef("id", chassis.metabolic_model), objective, constraints)
    return json_response({
        "computation_type": "static_metabolic",
        "status": result["status"],
        "optimal_objective": result["objective_value"],
        "objective": result["objective"],
        "flux_state": result["fluxes"],
        "computation_service": "centralized_cobrapy",
        "model_key": result["model"]["id"],
        "chassis_type": chassis_type,
        "vm_id": body.get("vm_id"),
        "process_code": body.get("process_code"),
        "execution_result": "computed_state",
    })


# -- v1 ------------------------------------------------------------------------------------------
def _describe(ctx, model_id: str) -> dict:
    entry = ctx.manifest.metabolic_models[model_id]
    return {"organism": entry.organism, "description": entry.description, "default_objective": entry.objective,
            "chassis": sorted(c.name for c in ctx.manifest.chassis.values() if c.metabolic_model == model_id)}


add_catalog_routes(bp, _describe, engine.describe_model)


@bp.post("/v1/fba")
def fba():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, (*CHANGE_FIELDS, "method", "fluxes"))
    method = get_str(body, "method", "fba", choices=("fba", "pfba"))
    flux_ids = get_str_list(body, "fluxes", None)
    changes = _changes(body)
    return json_response(ctx.compute(method, engine.run_fba, _model(body), changes, method, flux_ids))


@bp.post("/v1/fva")
def fva():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, (*CHANGE_FIELDS, "reactions", "fraction_of_optimum", "loopless"))
    reactions = get_str_list(body, "reactions", None)
    fraction = get_number(body, "fraction_of_optimum", 1.0, minimum=0.0, maximum=1.0)
    loopless = get_bool(body, "loopless", False)
    changes = _changes(body)
    return json_response(ctx.compute("fva", engine.run_fva, _model(body), changes, reactions, fraction, loopless))


def _deletions(body: dict) -> tuple[list[Deletion], list[str]]:
    """The deletion sets a request names, and which of genes/reactions it asks for as ``"all"``
    (expanded by the engine, which knows the model)."""
    deletions: list[Deletion] = []
    every: list[str] = []
    for key, kind in (("genes", "gene"), ("reactions", "reaction")):
        if body.get(key) == "all":
            every.append(key)
            continue
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
    if not deletions and not every:
        raise ValidationError("no deletions given: use genes, reactions (a list or \"all\") or sets")
    return deletions, every


def knockout_batch(model, changes: Changes, deletions: list[Deletion], every: list[str], limit: int) -> dict:
    """Engine side of ``/v1/knockouts``: single deletions of every gene/reaction where asked, then the batch."""
    for key in every:
        items = model.genes if key == "genes" else model.reactions
        deletions = deletions + [Deletion(genes=[i.id]) if key == "genes" else Deletion(reactions=[i.id])
                                 for i in items]
    if len(deletions) > limit:
        raise LimitExceeded(f"{len(deletions)} deletions in one request exceed the limit of "
                            f"{limit}; split the batch (the client does this)")
    return engine.run_knockouts(model, changes, deletions)


@bp.post("/v1/knockouts")
def knockouts():
    ctx = _ctx()
    body = read_json(ctx.settings)
    check_fields(body, ("model", "objective", "bounds", "medium", "genes", "reactions", "sets"))
    deletions, every = _deletions(body)
    limit = ctx.settings.max_knockouts
    if len(deletions) > limit:
        raise LimitExceeded(f"{len(deletions)} deletions in one request exceed the limit of "
                            f"{limit}; split the batch (the client does this)")
    changes = _changes({k: body[k] for k in ("objective", "bounds", "medium") if k in body})
    return json_response(ctx.compute("knockouts", knockout_batch, _model(body), changes, deletions, every, limit))
