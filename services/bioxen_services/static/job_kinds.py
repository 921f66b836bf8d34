"""The static service's job kinds (see :mod:`..jobs.kinds`): fba, fva, knockouts, dfba, omex.

Each kind takes the arguments of the synchronous engine function its endpoint calls:

==========  ========================================================  =====================
kind        arguments after the model                                 split into
==========  ========================================================  =====================
fba         ``changes, method, flux_ids`` (:func:`.engine.run_fba`)    one chunk
fva         ``changes, reactions, fraction, loopless`` (run_fva)       reactions
knockouts   ``changes, deletions, every`` (``every`` lists keys of     deletion sets
            :data:`.engine.EVERY_DELETION`: "genes", "gene_pairs" ...)
dfba        ``problem`` (:func:`.dfba.run_dfba`)                       one chunk
omex        ``archive, limits, service, options`` (no model: the      one chunk
            archive holds it; :func:`..omex.routes.run_archive`)
==========  ========================================================  =====================

Chunks of an FVA start at multiples of :data:`.variability.BLOCK` and every deletion starts from the
wild type's basis (:mod:`.lp_start`), so the merged answer is the synchronous one to the last bit.
"""

from __future__ import annotations

from ..jobs.kinds import Kind, Plan, one_chunk
from ..omex.routes import JOB_KIND as OMEX
from . import engine
from .dfba import DfbaProblem, check_problem, growth_reaction, run_dfba
from .engine import Changes, Deletion
from .variability import BLOCK

#: measured on this machine (GLPK): one reaction's range (two LPs) and one deletion's growth (one LP)
#: cost about this many seconds per reaction of the model (iMM904: 10 ms, 11 ms; e_coli_core: 1 ms, 0.4 ms)
FVA_SECONDS_PER_MODEL_REACTION = 7e-6
DELETION_SECONDS_PER_MODEL_REACTION = 6e-6
#: loopless FVA solves several LPs per reaction (cobra's documentation: "about a factor of 100")
LOOPLESS_FACTOR = 100


# -- engine side: checked as the synchronous path checks, before anything is queued ------------------
def plan_fba(model, changes: Changes, method: str, flux_ids: list[str] | None) -> Plan:
    engine.check_changes(model, changes)
    if flux_ids is not None:
        engine.check_reactions(model, flux_ids)
    return Plan()


def plan_fva(model, changes: Changes, reactions: list[str] | None, fraction: float, loopless: bool) -> Plan:
    engine.check_changes(model, changes)
    if reactions is not None:
        engine.check_reactions(model, reactions)
    ids = [r.id for r in model.reactions] if reactions is None else list(reactions)
    seconds = FVA_SECONDS_PER_MODEL_REACTION * len(model.reactions) * (LOOPLESS_FACTOR if loopless else 1)
    # loopless FVA restarts every LP (no blocks), so any split gives the whole answer
    return Plan(items=ids, align=1 if loopless else BLOCK, item_seconds=seconds)


def plan_knockouts(model, changes: Changes, deletions: list[Deletion], every: list[str]) -> Plan:
    """The deletion sets of the request with ``every`` expanded, in the synchronous batch's order."""
    engine.check_changes(model, changes)
    engine.check_deletions(model, deletions)
    items = list(deletions)
    for key in every:
        items += engine.every_deletion(model, key)
    return Plan(items=items, item_seconds=DELETION_SECONDS_PER_MODEL_REACTION * len(model.reactions))


def plan_dfba(model, problem: DfbaProblem) -> Plan:
    changes = check_problem(model, problem)
    with model:
        engine.apply_changes(model, changes)
        growth_reaction(model)
    return Plan()


# -- worker side ----------------------------------------------------------------------------------
def part_fva(args: tuple, context: dict, items: list[str]):
    changes, _, fraction, loopless = args
    return engine.run_fva, (changes, items, fraction, loopless)


def merge_fva(args: tuple, context: dict, parts: list[dict]) -> dict:
    answer = dict(parts[0])
    answer["ranges"] = {rid: bounds for part in parts for rid, bounds in part["ranges"].items()}
    return answer


def part_knockouts(args: tuple, context: dict, items: list[Deletion]):
    return engine.run_knockouts, (args[0], items)


def merge_knockouts(args: tuple, context: dict, parts: list[dict]) -> dict:
    answer = dict(parts[0])
    answer["results"] = [row for part in parts for row in part["results"]]
    return answer


KINDS = (
    Kind("fba", plan_fba, *one_chunk(engine.run_fba)),
    Kind("fva", plan_fva, part_fva, merge_fva),
    Kind("knockouts", plan_knockouts, part_knockouts, merge_knockouts, default_chunk=500),
    Kind("dfba", plan_dfba, *one_chunk(run_dfba)),
    OMEX,
)
