"""``POST /v1/dfba``: dynamic FBA of a batch culture on the static service."""

from __future__ import annotations

from ..api.operations import ApiBlueprint
from ..api.static import DfbaAnswer, DfbaRequest, MichaelisMenten
from ..errors import LimitExceeded
from .dfba import DfbaProblem, run_dfba
from .dfba_uptake import ExpressionUptake, Uptake, parse_expression

bp = ApiBlueprint("static_dfba", __name__)


def problem(req: DfbaRequest, max_points: int) -> DfbaProblem:
    """The engine's problem for a validated request; uptake expressions are parsed here (400 on anything
    but arithmetic of the tracked names), and the step count is bounded (422)."""
    tracked = set(req.concentrations)
    uptake: dict[str, Uptake | ExpressionUptake] = {
        rid: Uptake(vmax=spec.vmax, km=spec.km) if isinstance(spec, MichaelisMenten)
        else parse_expression(spec.expression, tracked, f"uptake[{rid!r}]")
        for rid, spec in req.uptake.items()}
    if req.points > max_points:
        raise LimitExceeded(f"{req.points} output points exceed the limit of {max_points}")
    out = DfbaProblem(biomass=req.biomass, concentrations=dict(req.concentrations), start=req.start, end=req.end,
                      points=req.points, uptake=uptake, fluxes=req.fluxes, objective=req.objective,
                      bounds=dict(req.bounds), max_step=req.max_step)
    if (req.end - req.start) / out.step() > max_points:
        raise LimitExceeded(f"{req.end - req.start:g} h in steps of at most {out.step():g} h make more than "
                            f"{max_points} steps; give a larger max_step")
    return out


@bp.operation("post", "/v1/dfba", request=DfbaRequest, answer=DfbaAnswer, summary="dynamic FBA (batch culture)",
              description="Biomass and the tracked concentrations over time: at each step an LP gives the growth "
                          "rate and exchange fluxes under the uptake kinetics given.",
              example={"model": {"id": "e_coli_core"}, "biomass": 0.05, "end": 8, "points": 9,
                       "concentrations": {"EX_glc__D_e": 10, "EX_ac_e": 0},
                       "uptake": {"EX_glc__D_e": {"vmax": 10, "km": 0.5}}})
def dfba(plane, req: DfbaRequest):
    return plane.compute("dfba", run_dfba, req.model.ref(), problem(req, plane.settings.max_dfba_points))
