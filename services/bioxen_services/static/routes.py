"""HTTP operations of the static metabolic service. Each takes its request already validated against
its declaration (:mod:`..api.static`), makes one call into the data plane, and answers."""

from __future__ import annotations

from ..api.operations import ApiBlueprint
from ..api.static import (
    FbaAnswer,
    FbaRequest,
    FvaAnswer,
    FvaRequest,
    KnockoutsAnswer,
    KnockoutsRequest,
    MetabolicModelDetail,
    MetabolicModelList,
    Phase1MetabolicAnswer,
    Phase1MetabolicRequest,
)
from ..catalog import add_catalog_routes
from ..errors import LimitExceeded, ValidationError
from ..modelref import ModelRef
from ..omex.routes import add_omex_route
from . import engine
from .engine import Changes, Deletion

bp = ApiBlueprint("static", __name__)


def changes(req) -> Changes:
    """The per-request changes a request names (knockouts only where the request has them)."""
    knockouts = getattr(req, "knockouts", None)
    return Changes(objective=req.objective, bounds=dict(req.bounds), medium=req.medium,
                   gene_knockouts=list(knockouts.genes) if knockouts else [],
                   reaction_knockouts=list(knockouts.reactions) if knockouts else [])


def phase1_fba(model, objective: str | None, constraints: dict) -> dict:
    """Engine side of ``/compute/metabolic``: phase 1 falls back to the model's own objective when
    the requested one is not a reaction of the chassis' model."""
    if objective is not None and objective not in model.reactions:
        objective = None
    return engine.run_fba(model, Changes(objective=objective, bounds=constraints))


# -- phase-1 contract ----------------------------------------------------------------------------
@bp.operation("post", "/compute/metabolic", request=Phase1MetabolicRequest, answer=Phase1MetabolicAnswer,
              summary="phase-1 FBA of a chassis' model",
              description="The phase-1 contract, kept field for field. New clients use POST /v1/fba.",
              example={"chassis_type": "ecoli", "vm_id": "ecoli_vm_1"})
def compute_metabolic(plane, req: Phase1MetabolicRequest):
    try:
        chassis = plane.manifest.chassis_for(req.chassis_type)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    result = plane.compute("fba", phase1_fba, ModelRef("id", chassis.metabolic_model), req.objective,
                           dict(req.constraints))
    return {
        "computation_type": "static_metabolic",
        "status": result["status"],
        "optimal_objective": result["objective_value"],
        "objective": result["objective"],
        "flux_state": result["fluxes"],
        "computation_service": "centralized_cobrapy",
        "model_key": result["model"]["id"],
        "chassis_type": req.chassis_type,
        "vm_id": req.vm_id,
        "process_code": req.process_code,
        "execution_result": "computed_state",
    }


# -- v1 ------------------------------------------------------------------------------------------
def _describe(plane, model_id: str) -> dict:
    entry = plane.manifest.metabolic_models[model_id]
    return {"organism": entry.organism, "description": entry.description, "default_objective": entry.objective,
            "chassis": sorted(c.name for c in plane.manifest.chassis.values() if c.metabolic_model == model_id)}


add_catalog_routes(bp, _describe, engine.describe_model, listing=MetabolicModelList, detail=MetabolicModelDetail,
                   kind="metabolic model", example="e_coli_core")
add_omex_route(bp, "static")


@bp.operation("post", "/v1/fba", request=FbaRequest, answer=FbaAnswer, summary="FBA or parsimonious FBA",
              description="Optimizes the objective (the model's, or the one given) under the bounds, medium and "
                          "knockouts given, which apply to this request only.",
              example={"model": {"id": "e_coli_core"}, "bounds": {"EX_glc__D_e": [-5, 1000]}, "fluxes": ["PGI"]})
def fba(plane, req: FbaRequest):
    return plane.compute(req.method, engine.run_fba, req.model.ref(), changes(req), req.method, req.fluxes)


@bp.operation("post", "/v1/fva", request=FvaRequest, answer=FvaAnswer, summary="flux variability analysis",
              description="The minimum and maximum flux of each reaction asked for while the objective stays at "
                          "or above fraction_of_optimum of its optimum.",
              example={"model": {"id": "e_coli_core"}, "reactions": ["PGI", "PFK"], "fraction_of_optimum": 0.9})
def fva(plane, req: FvaRequest):
    return plane.compute("fva", engine.run_fva, req.model.ref(), changes(req), req.reactions,
                         req.fraction_of_optimum, req.loopless)


def deletions(req: KnockoutsRequest) -> tuple[list[Deletion], list[str]]:
    """The deletion sets a request names, and which of genes/reactions it asks for as ``"all"``
    (expanded by the engine, which knows the model)."""
    out: list[Deletion] = []
    every = [key for key in ("genes", "reactions") if getattr(req, key) == "all"]
    every += [f"{key[:-1]}_pairs" for key in ("genes", "reactions") if getattr(req, key) == "all_pairs"]
    if isinstance(req.genes, list):
        out += [Deletion(genes=[g]) for g in req.genes]
    if isinstance(req.reactions, list):
        out += [Deletion(reactions=[r]) for r in req.reactions]
    out += [Deletion(list(s.genes), list(s.reactions)) for s in req.sets]
    return out, every


def _too_many(count: int, limit: int) -> None:
    if count > limit:
        raise LimitExceeded(f"{count} deletions in one request exceed the limit of {limit}; submit them as a "
                            "job (POST /v1/jobs, kind knockouts) or split the batch")


def knockout_batch(model, changes: Changes, deletions: list[Deletion], every: list[str], limit: int) -> dict:
    """Engine side of ``/v1/knockouts``: single deletions of every gene/reaction where asked, then the batch."""
    for key in every:
        deletions = deletions + engine.every_deletion(model, key)
    _too_many(len(deletions), limit)
    return engine.run_knockouts(model, changes, deletions)


@bp.operation("post", "/v1/knockouts", request=KnockoutsRequest, answer=KnockoutsAnswer,
              summary="a batch of gene / reaction deletions",
              description="Growth with each deletion set: single deletions of the genes and reactions listed "
                          "(or \"all\"), and the sets deleted together.",
              example={"model": {"id": "e_coli_core"}, "genes": ["b1779"], "reactions": ["PFK"]})
def knockouts(plane, req: KnockoutsRequest):
    batch, every = deletions(req)
    limit = plane.settings.max_knockouts
    _too_many(len(batch), limit)
    return plane.compute("knockouts", knockout_batch, req.model.ref(), changes(req), batch, every, limit)
