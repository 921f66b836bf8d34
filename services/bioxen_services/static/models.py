"""COBRApy model store: shipped SBML models loaded once per worker; inline SBML parsed once per sha256."""

from __future__ import annotations

import io
import logging

import cobra
from cobra.io import read_sbml_model
from cobra.io.sbml import CobraSBMLError

from .. import timeouts
from ..errors import InvalidModel
from ..store import ModelStore, check_xml_text

log = logging.getLogger(__name__)


def configure_cobra() -> None:
    """One process per worker: cobra must not start its own pool (it defaults to the host's CPU
    count, not the container's limit), and GLPK stays the solver (warm starts beat HiGHS here)."""
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


def cobra_reason(exc: BaseException) -> str:
    """What cobra says went wrong: its SBML reader wraps the cause ("The lower bound must be less than
    or equal to the upper bound (0.0 <= -3.0)") in a generic "Something went wrong reading the SBML
    model"; the innermost exception of the chain is the reason."""
    seen = set()
    while id(exc) not in seen and (exc.__cause__ or exc.__context__) is not None:
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def parse_sbml(text: str, name: str = "inline") -> cobra.Model:
    """SBML text -> cobra Model. Text only: a file-like object, so cobra never treats it as a path."""
    check_xml_text(text)
    try:
        model = read_sbml_model(io.StringIO(text))
    except (CobraSBMLError, OSError) as exc:  # cobra wraps libSBML and conversion failures in these
        timeouts.reraise_budget(exc)  # cobra wraps everything, our budget's alarm included
        problems = _sbml_errors(text)
        detail = "; ".join(problems[:3]) if problems else cobra_reason(exc)
        raise InvalidModel(f"the SBML of model {name!r} could not be read: {detail}") from exc
    if not model.reactions:
        raise InvalidModel(f"the SBML of model {name!r} has no reactions: nothing to optimize")
    return model


class CobraStore(ModelStore[cobra.Model]):
    service = "static"

    def compile(self, text: str, fmt: str, name: str) -> cobra.Model:
        model = parse_sbml(text, name)
        model.solver = "glpk"
        model.slim_optimize()  # warm the solver: the first solve builds GLPK's basis
        return model

    def model_id(self, engine: cobra.Model, fallback: str) -> str:
        return engine.id or fallback
