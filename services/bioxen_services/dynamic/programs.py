"""RoadRunner store: each program text (SBML or Antimony) is compiled once per worker and the
RoadRunner instance is reset per request. Antimony's loader is process-global and not thread-safe;
all compiles run under the runtime's engine lock."""

from __future__ import annotations

import logging

import antimony
import roadrunner

from ..errors import InvalidModel
from ..store import ModelStore, check_xml_text

log = logging.getLogger(__name__)


def antimony_to_sbml(text: str) -> str:
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        try:
            message = (antimony.getLastError() or "unknown error").strip()
        except UnicodeDecodeError:  # libAntimony may cut its message inside a multi-byte character
            message = "the program could not be parsed (the parser's message was not valid UTF-8)"
        antimony.clearPreviousLoads()
        raise InvalidModel(f"Antimony syntax error: {message}")
    module = antimony.getMainModuleName()
    sbml = antimony.getSBMLString(module)
    antimony.clearPreviousLoads()
    if not sbml:
        raise InvalidModel("the Antimony program defines no model")
    return sbml


def sbml_errors(text: str) -> list[str]:
    import libsbml

    doc = libsbml.readSBMLFromString(text)
    return [f"line {doc.getError(i).getLine()}: {doc.getError(i).getMessage().strip()}"
            for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


class Program:
    """A compiled program: a deterministic (CVODE) RoadRunner, and a stochastic (Gillespie) one made
    on first use. They are kept apart because libRoadRunner 2.10's steady-state solver returns the
    unsolved initial state on an instance that has once run the Gillespie integrator."""

    def __init__(self, rr: roadrunner.RoadRunner, sbml: str):
        self.rr = rr
        self._sbml = sbml
        self._stochastic: roadrunner.RoadRunner | None = None

    def instance(self, integrator: str) -> roadrunner.RoadRunner:
        if integrator == "cvode":
            return self.rr
        if self._stochastic is None:
            self._stochastic = roadrunner.RoadRunner(self._sbml)
            self._stochastic.setIntegrator("gillespie")
        return self._stochastic


def compile_program(text: str, fmt: str) -> Program:
    if fmt == "antimony":
        sbml = antimony_to_sbml(text)
    else:
        check_xml_text(text)
        problems = sbml_errors(text)  # RoadRunner would also take a path or URL: it only ever gets XML
        if problems:
            raise InvalidModel("the SBML could not be read: " + "; ".join(problems[:3]))
        sbml = text
    try:
        rr = roadrunner.RoadRunner(sbml)
    except RuntimeError as exc:
        raise InvalidModel(f"the model could not be compiled: {str(exc).strip()[:300]}") from exc
    if rr.model.getNumFloatingSpecies() == 0 and rr.model.getNumRateRules() == 0:
        raise InvalidModel("the model has no floating species or rate rules: nothing to simulate")
    try:
        rr.simulate(0, 1, 2)  # warm the integrator
    except RuntimeError:  # e.g. CV_TOO_MUCH_WORK: the model is valid; a request on it will say why it fails
        log.debug("warm-up simulation failed", exc_info=True)
    rr.resetAll()
    return Program(rr, sbml)


class RoadRunnerStore(ModelStore[Program]):
    service = "dynamic"

    def compile(self, text: str, fmt: str, name: str) -> Program:
        return compile_program(text, fmt)

    def model_id(self, engine: Program, fallback: str) -> str:
        return engine.rr.model.getModelName() or fallback
