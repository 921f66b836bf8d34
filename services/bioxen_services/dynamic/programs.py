"""RoadRunner store: each program text (SBML or Antimony) is compiled once per engine process (the
shipped ones once, in the template the engines are forked from) and the RoadRunner instance is brought
back to its initial state per request. Antimony's loader is process-global and not thread-safe: an
engine process runs one computation at a time on one thread, so no two compiles ever meet.

libRoadRunner's Python wrapper would install a class-level property per model id and delete it at
the next load (a model with a parameter ``reset`` removes ``RoadRunner.reset`` for the whole process):
that is switched off here, at import, before any model is loaded. Ids are read and set with
``rr.getValue`` / ``rr.setValue`` (``rr["id"]``), never as attributes."""

from __future__ import annotations

import logging
import re

import antimony
import numpy as np
import libsbml
import roadrunner

from ..errors import InvalidModel, UnsupportedFeature
from ..store import ModelStore, check_xml_text
from .algebraic import rewrite_algebraic_rules
from .comp import flatten
from .units import model_units

log = logging.getLogger(__name__)

roadrunner.Config.setValue(roadrunner.Config.ROADRUNNER_DISABLE_PYTHON_DYNAMIC_PROPERTIES, True)


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
    doc = libsbml.readSBMLFromString(text)
    return [f"line {doc.getError(i).getLine()}: {doc.getError(i).getMessage().strip()}"
            for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


#: a C++ frame libRoadRunner appends to its messages (", at rrllvm::...(const libsbml::Model*)"), and
#: source locations; the engine's own words are kept, its internals are not
_CPP_FRAME = re.compile(r",?\s*\bat\s+[^\n]*?(\w+::)+\w+[^\n]*$", re.MULTILINE)
_SOURCE_LINE = re.compile(r"^\s*(at\s.*|.*\.(cpp|h|hpp|cc):\d+.*|.*0x[0-9a-f]{6,}.*)$",
                          re.MULTILINE | re.IGNORECASE)


def engine_message(exc: BaseException | str, limit: int = 300) -> str:
    """An engine error message as users should see it: no C++ frames, file:line or addresses."""
    text = _SOURCE_LINE.sub("", _CPP_FRAME.sub("", str(exc)))
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return text[:limit] or "the engine gave no reason"


#: what libRoadRunner 2.10 cannot simulate, found with libSBML before it loads the model
_DELAY_CSYMBOL = "http://www.sbml.org/sbml/symbols/delay"


def unsupported_features(sbml: str) -> None:
    """Raise :class:`UnsupportedFeature` naming the first thing in ``sbml`` the engine cannot do."""
    model = libsbml.readSBMLFromString(sbml).getModel()
    if model is None:
        return
    for i in range(model.getNumRules()):
        rule = model.getRule(i)
        if rule.isAlgebraic() and rule.isSetMath():  # one without math constrains nothing
            raise UnsupportedFeature(
                "algebraic rules", f"rule '0 = {libsbml.formulaToL3String(rule.getMath())}'")
    for i in range(model.getNumReactions()):
        reaction = model.getReaction(i)
        if reaction.isSetFast() and reaction.getFast():
            raise UnsupportedFeature("fast reactions", f"reaction {reaction.getId()!r} is fast=\"true\"")
    if _DELAY_CSYMBOL in sbml:
        raise UnsupportedFeature("delay()", "the model uses the delay() function (delay differential "
                                            "equations)")


class Program:
    """A compiled program: a deterministic (CVODE) RoadRunner, and one per other integrator (Gillespie,
    and the fixed- or adaptive-step Runge-Kutta and Euler ones SED-ML tasks may ask for) made on first
    use. They are kept apart because libRoadRunner 2.10's steady-state solver returns the unsolved
    initial state on an instance that has once run the Gillespie integrator.

    :meth:`restore` brings an instance back to the state of a freshly loaded engine. ``resetAll()``
    does that (about 0.01 ms), except that it keeps delayed events still pending from an earlier run.
    For models with delayed events the state saved right after loading is loaded back first
    (``loadStateS``: it empties the event queue, but applies events that trigger at t0 once more, which
    the ``resetAll()`` after it undoes); about 1.7 ms on a small model, so only where it matters.
    Checked against fresh engines on the 323 event cases of the SBML Test Suite."""

    def __init__(self, rr: roadrunner.RoadRunner, sbml: str, initial_state: bytes | None = None):
        self.rr = rr
        self._sbml = sbml
        #: instances for integrators other than CVODE, by integrator name
        self._others: dict[str, roadrunner.RoadRunner] = {}
        #: the state right after loading, per instance (models with delayed events only)
        self._states: dict[int, bytes] = {}
        if initial_state is not None:
            self._states[id(rr)] = initial_state
        integrator = rr.getIntegrator()
        #: CVODE's own tolerances, restored for requests that set none
        self.default_tolerances = {name: integrator.getValue(name)
                                   for name in ("absolute_tolerance", "relative_tolerance")}
        #: ids that assignment rules define: never settable by a request
        self.rule_defined = frozenset(rr.getAssignmentRuleIds())
        #: what the model's values are measured in (its SBML units), for the answers' ``units``
        self.units = model_units(sbml)

    def instance(self, integrator: str) -> roadrunner.RoadRunner:
        if integrator == "cvode":
            return self.rr
        other = self._others.get(integrator)
        if other is None:
            other = roadrunner.RoadRunner(self._sbml)
            other.setIntegrator(integrator)
            if self._states:
                self._states[id(other)] = other.saveStateS()
            self._others[integrator] = other
        return other

    def instances(self) -> list[roadrunner.RoadRunner]:
        """Every instance made so far (CVODE's first)."""
        return [self.rr, *self._others.values()]

    def restore(self, rr: roadrunner.RoadRunner) -> None:
        """``rr`` as freshly loaded: initial values, time 0, no pending events."""
        state = self._states.get(id(rr))
        if state is not None:
            rr.loadStateS(state)
        rr.resetAll()


def load_sbml(text: str, fmt: str) -> str:
    """The SBML libRoadRunner will load: Antimony translated, comp flattened, and refused (4xx) when
    it is malformed or uses what the engine cannot simulate."""
    if fmt == "antimony":
        sbml = antimony_to_sbml(text)
    else:
        check_xml_text(text)
        problems = sbml_errors(text)  # RoadRunner would also take a path or URL: it only ever gets XML
        if problems:
            raise InvalidModel("the SBML could not be read: " + "; ".join(problems[:3]))
        sbml = flatten(text)
    sbml = rewrite_algebraic_rules(sbml)
    unsupported_features(sbml)
    return sbml


def compile_program(text: str, fmt: str) -> Program:
    sbml = load_sbml(text, fmt)
    try:
        rr = roadrunner.RoadRunner(sbml)
    except RuntimeError as exc:
        if "algebraicRule" in text:  # rewritten into assignment rules the engine does not accept
            raise UnsupportedFeature("algebraic rules", "they could not be rewritten as assignment rules "
                                     f"it accepts ({engine_message(exc)})") from exc
        raise InvalidModel(f"the model could not be compiled: {engine_message(exc)}") from exc
    delayed_events = rr.model.getNumEvents() > 0 and "<delay" in sbml
    initial = rr.saveStateS() if delayed_events else None
    try:
        rr.simulate(0, 1, 2)  # warm the integrator
    except RuntimeError:  # e.g. CV_TOO_MUCH_WORK: the model is valid; a request on it will say why it fails
        log.debug("warm-up simulation failed", exc_info=True)
    program = Program(rr, sbml, initial)
    program.restore(rr)
    return program


class RoadRunnerStore(ModelStore[Program]):
    service = "dynamic"

    def compile(self, text: str, fmt: str, name: str) -> Program:
        return compile_program(text, fmt)

    def model_id(self, engine: Program, fallback: str) -> str:
        return engine.rr.model.getModelName() or fallback

    def self_check(self, engine: Program) -> bool:
        engine.restore(engine.rr)
        data = engine.rr.simulate(0, 1, 2)
        engine.restore(engine.rr)
        return bool(np.isfinite(np.asarray(data)).all())
