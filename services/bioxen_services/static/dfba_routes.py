"""HTTP route of dynamic FBA on the static service: ``POST /v1/dfba`` (parse, run, serialize)."""

from __future__ import annotations

from flask import Blueprint, current_app

from ..errors import LimitExceeded, ValidationError
from ..validation import (MAX_BOUND, check_fields, check_number, get_bounds_map, get_model_ref, get_number,
                          get_number_map, get_object, get_str, get_str_list)
from ..web import json_response, read_json
from .dfba import DfbaProblem, run_dfba
from .kinetics import ExpressionUptake, Uptake, parse_expression

bp = Blueprint("static_dfba", __name__)

FIELDS = ("model", "biomass", "concentrations", "uptake", "start", "end", "points", "fluxes",
          "objective", "bounds", "max_step")


def _uptake(body: dict, tracked: set[str]) -> dict[str, Uptake | ExpressionUptake]:
    out: dict[str, Uptake | ExpressionUptake] = {}
    for rid, spec in get_object(body, "uptake", {}).items():
        if not isinstance(spec, dict):
            raise ValidationError(f"uptake[{rid!r}] must be an object {{\"vmax\": ..., \"km\": ...}} "
                                  f"or {{\"expression\": ...}}")
        if "expression" in spec:
            check_fields(spec, ("expression",))
            out[rid] = parse_expression(get_str(spec, "expression"), tracked, f"uptake[{rid!r}]")
            continue
        check_fields(spec, ("vmax", "km"))
        missing = [k for k in ("vmax", "km") if spec.get(k) is None]
        if missing:
            raise ValidationError(f"uptake[{rid!r}] needs {missing} (Michaelis-Menten vmax mmol/gDW/h, km mM)")
        out[rid] = Uptake(
            vmax=float(check_number(spec["vmax"], f"uptake[{rid!r}].vmax", minimum=0, magnitude=MAX_BOUND)),
            km=float(check_number(spec["km"], f"uptake[{rid!r}].km", minimum=0, magnitude=MAX_BOUND)))
    return out


def parse_problem(body: dict, max_points: int) -> DfbaProblem:
    check_fields(body, FIELDS)
    concentrations = get_number_map(body, "concentrations", minimum=0, magnitude=MAX_BOUND)
    if not concentrations:
        raise ValidationError("concentrations must name at least one exchange reaction, e.g. "
                              "{\"EX_glc__D_e\": 10} (mM)")
    start = get_number(body, "start", 0.0)
    end = get_number(body, "end")
    if end <= start:
        raise ValidationError(f"end ({end}) must be after start ({start})")
    points = get_number(body, "points", 101, minimum=2, integer=True)
    if points > max_points:
        raise LimitExceeded(f"{points} output points exceed the limit of {max_points}")
    max_step = body.get("max_step")
    if max_step is not None:
        max_step = check_number(max_step, "max_step", minimum=0, exclusive_minimum=True)
    problem = DfbaProblem(
        biomass=get_number(body, "biomass", minimum=0, exclusive_minimum=True),
        concentrations=concentrations, start=start, end=end, points=points,
        uptake=_uptake(body, set(concentrations)),
        fluxes=get_str_list(body, "fluxes", None), objective=get_str(body, "objective", None),
        bounds=get_bounds_map(body, "bounds"), max_step=max_step)
    if (end - start) / problem.step() > max_points:
        raise LimitExceeded(f"{end - start:g} h in steps of at most {problem.step():g} h make more than "
                            f"{max_points} steps; give a larger max_step")
    return problem


@bp.post("/v1/dfba")
def dfba():
    ctx = current_app.extensions["bioxen"]
    body = read_json(ctx.settings)
    problem = parse_problem(body, ctx.settings.max_dfba_points)
    return json_response(ctx.compute("dfba", run_dfba, get_model_ref(body, ("sbml",)), problem))
