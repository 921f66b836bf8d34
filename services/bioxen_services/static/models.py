"""COBRApy model store: shipped SBML models loaded once (in the template the engine processes are
forked from); inline SBML parsed once per sha256 per engine process."""

from __future__ import annotations

import io
import math

import cobra
from cobra.io import read_sbml_model
from cobra.io.sbml import CobraSBMLError

from ..errors import InvalidModel
from ..modelref import MAX_BOUND
from ..store import ModelStore, check_xml_text
from .lp_start import remember_start


def configure_cobra() -> None:
    """One single-threaded computation per engine process: cobra must not start its own pool (it defaults
    to the host's CPU count, not the container's limit), and GLPK stays the solver (warm starts beat
    HiGHS here)."""
    config = cobra.Configuration()
    config.processes = 1
    config.solver = "glpk"


def _sbml_errors(text: str) -> list[str]:
    import libsbml

    doc = libsbml.readSBMLFromString(text)
    out = []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR:
            out.append(f"line {err.getLine()}: {err.getMessage().strip()}")
    return out


def _reversed_bounds(text: str) -> list[str]:
    """Reactions whose fbc lower bound is above their upper bound (cobra refuses them without a name)."""
    import libsbml

    model = libsbml.readSBMLFromString(text).getModel()
    out = []
    for reaction in (model.getListOfReactions() if model is not None else []):
        fbc = reaction.getPlugin("fbc")
        lower = model.getParameter(fbc.getLowerFluxBound()) if fbc is not None else None
        upper = model.getParameter(fbc.getUpperFluxBound()) if fbc is not None else None
        if lower is not None and upper is not None and lower.getValue() > upper.getValue():
            out.append(f"reaction {reaction.getId()!r} has lower bound {lower.getValue():g} above "
                       f"upper bound {upper.getValue():g}")
    return out


def cobra_reason(exc: BaseException) -> str:
    """The first line of the innermost error under cobra's generic "Something went wrong reading the SBML"."""
    reason = exc
    while (reason.__cause__ or reason.__context__) is not None:
        reason = reason.__cause__ or reason.__context__
    return (str(reason).strip().splitlines() or [type(reason).__name__])[0][:300]


def _check_bound_magnitudes(model: cobra.Model, name: str) -> None:
    """GLPK aborts the process on bounds near 1e308: refuse finite bounds past MAX_BOUND (INF is fine)."""
    huge = [f"{r.id!r} ({r.lower_bound:g}, {r.upper_bound:g})" for r in model.reactions
            if any(math.isfinite(b) and abs(b) > MAX_BOUND for b in r.bounds)]
    if huge:
        raise InvalidModel(f"model {name!r} has flux bounds past the limit of {MAX_BOUND:g} (the LP solver fails "
                           f"on numbers near 1e308; use INF for no bound): {', '.join(huge[:5])}"
                           + (f" and {len(huge) - 5} more" if len(huge) > 5 else ""))


def parse_sbml(text: str, name: str = "inline") -> cobra.Model:
    """SBML text -> cobra Model. Text only: a file-like object, so cobra never treats it as a path."""
    check_xml_text(text)
    try:
        model = read_sbml_model(io.StringIO(text))
    except (CobraSBMLError, OSError) as exc:  # cobra wraps libSBML and conversion failures in these
        problems = _sbml_errors(text) or [*_reversed_bounds(text)[:2], cobra_reason(exc)]
        raise InvalidModel(f"the SBML of model {name!r} could not be read: {'; '.join(problems[:3])}") from exc
    if not model.reactions:
        raise InvalidModel(f"the SBML of model {name!r} has no reactions: nothing to optimize")
    _check_bound_magnitudes(model, name)
    return model


class CobraStore(ModelStore[cobra.Model]):
    service = "static"

    def compile(self, text: str, fmt: str, name: str) -> cobra.Model:
        model = parse_sbml(text, name)
        model.solver = "glpk"
        model.slim_optimize()  # warm the solver: the first solve builds GLPK's basis
        remember_start(model)  # ... where every request's first solve starts (lp_start)
        return model

    def model_id(self, engine: cobra.Model, fallback: str) -> str:
        return engine.id or fallback

    def self_check(self, engine: cobra.Model) -> bool:
        with engine:
            return math.isfinite(engine.slim_optimize(error_value=float("nan")))
