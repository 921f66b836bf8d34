"""SED-ML tasks on libRoadRunner: time courses (CVODE, RK45, RK4, Euler, Gillespie), one steps and
steady states, on models compiled the way the kinetic service compiles inline SBML
(:func:`~bioxen_services.dynamic.programs.compile_program`: comp flattened, algebraic rules rewritten,
what the engine cannot simulate refused by name).

A species target (no attribute) means the species' concentration in deterministic runs, whatever its
``hasOnlySubstanceUnits``, and its amount (a molecule count) in stochastic ones. The first is what
libRoadRunner's own SED-ML front end does (Tellurium 2.2.13, ``tesedml.py``: every species target is the
``[S]`` selection); both are what the suite's reference reports hold for the Vilar circadian clock
(concentrations from its ODE tasks, whole molecule counts from its Gillespie tasks, species with only
substance units in a compartment of size 4/3 pi) and for Parmar's iron distribution (concentrations in
compartments far from size 1). SBML's own reading (amounts for species with only substance units) would
match neither. docs/conformance.md lists the one reference that reports amounts from an ODE run.
"""

from __future__ import annotations

import math
import random

import numpy as np

from ..dynamic.comp import inline_external_models
from ..dynamic.programs import Program, compile_program, engine_message
from ..errors import ComputationFailed, UnsupportedTask
from . import kisao
from .plan import ModelKey, SimulationSpec
from .sedml import ModelXml, Target

#: integrator settings an algorithm parameter may set, per integrator
_SETTINGS = {
    "cvode": {"relative_tolerance", "absolute_tolerance", "maximum_num_steps", "maximum_time_step",
              "minimum_time_step"},
    "rk45": {"maximum_time_step", "minimum_time_step"},
    "rk4": set(), "euler": set(), "gillespie": set(),
}
#: fixed-step integrators step once per output interval; a smaller step (KISAO_0000483) subdivides
#: each interval into at most this many steps (RK4: computed as points, of which at most
#: MAX_COMPUTED_POINTS, keeping the output ones)
MAX_SUBSTEPS = 10_000
MAX_COMPUTED_POINTS = 2_000_000


class KineticBackend:
    service = "dynamic"

    def __init__(self, files):
        #: the archive's files by path relative to the model (external model definitions of comp)
        self._files = files
        self._programs: dict[ModelKey, Program] = {}
        self._xml: dict[ModelKey, ModelXml] = {}
        self._pending: dict[ModelKey, dict[str, float]] = {}
        self._defaults: dict[int, dict[str, float]] = {}

    def load(self, key: ModelKey, xml: ModelXml) -> None:
        if key in self._programs:
            return
        text = inline_external_models(xml.text(), self._files(key))
        self._programs[key] = compile_program(text, "sbml")
        self._xml[key] = xml
        self._pending[key] = {}

    def adapt(self, key: ModelKey, spec: SimulationSpec) -> SimulationSpec:
        """``spec`` as this model can run it: libRoadRunner 2.10's Runge-Kutta integrators (rk4, rk45)
        step over SBML events without firing them, so a model with events runs on CVODE instead,
        reported as a substitution, rather than giving a wrong trajectory."""
        if spec.algorithm.engine in ("rk4", "rk45") and self._programs[key].rr.model.getNumEvents() > 0:
            spec.reason = (f"{spec.algorithm.name} in libRoadRunner ignores SBML events and this model has "
                           "events; CVODE integrates the same ODEs and fires them"
                           + (f" ({spec.reason})" if spec.reason else ""))
            spec.algorithm = kisao.ALGORITHMS["KISAO_0000019"]
        return spec

    def xml(self, key: ModelKey) -> ModelXml:
        return self._xml[key]

    def reset(self, key: ModelKey) -> None:
        program = self._programs[key]
        for rr in program.instances():
            program.restore(rr)
        self._pending[key] = {}

    # values of model entities ---------------------------------------------------------------------

    @staticmethod
    def selection(target: Target | None, stochastic: bool = False) -> str:
        """The RoadRunner selection of a SED-ML variable target (None: the time symbol); a species is
        its concentration, or its amount in a stochastic run (see the module's docstring)."""
        if target is None:
            return "time"
        if target.kind == "species":
            if target.attribute == "initialAmount":
                return f"init({target.id})"
            if target.attribute == "initialConcentration":
                return f"init([{target.id}])"
            return target.id if stochastic else f"[{target.id}]"
        return target.id

    def set_value(self, key: ModelKey, target: Target, value: float) -> None:
        """Set before the next run (on the instance that run uses): current values, so a repeated task
        that does not reset the model carries on from where it was."""
        selection = self.selection(target)
        if selection.startswith("init("):
            selection = selection[5:-1]
        self._pending[key][selection] = float(value)

    def get_value(self, key: ModelKey, target: Target) -> float:
        selection = self.selection(target)
        pending = self._pending[key].get(selection)
        if pending is not None:
            return pending
        try:
            return float(self._programs[key].rr.getValue(selection))
        except RuntimeError as exc:
            raise ComputationFailed(f"the engine could not read {selection!r}: {engine_message(exc)}") from exc

    # runs -----------------------------------------------------------------------------------------

    def _instance(self, key: ModelKey, spec: SimulationSpec, warnings: list[str]):
        program = self._programs[key]
        engine = spec.algorithm.engine if spec.algorithm.kind != kisao.STEADY else "cvode"
        rr = program.instance(engine)
        integrator = rr.getIntegrator()
        defaults = self._defaults.setdefault(id(rr), {name: integrator.getValue(name)
                                                     for name in _SETTINGS.get(engine, ())})
        for name, value in defaults.items():
            integrator.setValue(name, value)
        for name, value in spec.parameters.items():
            if name in _SETTINGS.get(engine, ()):
                integrator.setValue(name, int(value) if name == "maximum_num_steps" else value)
            elif name == "seed" or (name == "step_size" and engine in ("rk4", "euler")):
                continue
            else:
                warnings.append(f"task {spec.task!r}: algorithm parameter {name} has no effect on "
                                f"libRoadRunner's {engine} integrator; ignored")
        if engine == "gillespie":
            integrator.setValue("variable_step_size", False)
            integrator.setValue("seed", spec.seed)
        elif spec.seed is not None:
            rr.setSeed(spec.seed)
        for selection, value in self._pending[key].items():
            try:
                rr.setValue(selection, value)
            except RuntimeError as exc:
                raise UnsupportedTask(spec.task, spec.sedml, f"the engine cannot set {selection!r}: "
                                      f"{engine_message(exc)}") from exc
        self._pending[key] = {}
        return rr, engine

    def run(self, key: ModelKey, spec: SimulationSpec, targets: dict[str, Target | None],
            warnings: list[str]) -> dict[str, np.ndarray]:
        rr, engine = self._instance(key, spec, warnings)
        selections = {var: self.selection(t, engine == "gillespie") for var, t in targets.items()}
        try:
            if spec.kind == "steadyState":
                return self._steady_state(rr, selections)
            if spec.kind == "oneStep":
                start = float(rr.model.getTime())
                return self._columns(rr.simulate(start, start + spec.step, 2, list(selections.values())),
                                     selections)
            return self._time_course(rr, engine, spec, selections)
        except RuntimeError as exc:
            raise ComputationFailed(f"task {spec.task!r} of {spec.sedml!r}: the integrator failed: "
                                    f"{engine_message(exc)}") from exc

    @staticmethod
    def _columns(data, selections: dict[str, str]) -> dict[str, np.ndarray]:
        data = np.asarray(data, dtype=float)
        return {var: data[:, i].copy() for i, var in enumerate(selections)}

    def _time_course(self, rr, engine: str, spec: SimulationSpec, selections: dict[str, str]):
        columns = list(dict.fromkeys(selections.values())) or ["time"]
        state = rr.saveStateS() if engine == "euler" else None
        data = self._integrate(rr, engine, spec, columns)
        if state is not None and not np.isfinite(data).all():
            # libRoadRunner 2.10's Euler integrator returns NaN from the first step on some models that
            # CVODE integrates without trouble (the Vilar circadian clock): rerun from the same state
            # with CVODE and say so, rather than report NaN as the model's behaviour
            rr.loadStateS(state)
            rr.setIntegrator("cvode")
            try:
                data = self._integrate(rr, "cvode", spec, columns)
            finally:
                rr.setIntegrator("euler")
            spec.reason = ("libRoadRunner's Euler integrator gave non-finite values on this model; the task "
                           "was run again with CVODE, which integrates the same ODEs with error control")
            spec.algorithm = kisao.ALGORITHMS["KISAO_0000019"]
        index = {name: i for i, name in enumerate(columns)}
        return {var: data[:, index[sel]].copy() for var, sel in selections.items()}

    @staticmethod
    def _integrate(rr, engine: str, spec: SimulationSpec, columns: list[str]) -> np.ndarray:
        """The output points from ``spec.start`` to ``spec.end`` (after integrating from
        ``spec.initial`` to ``spec.start`` without output). Fixed-step integrators step once per output
        interval; a smaller step size asked for (KISAO_0000483) subdivides each interval."""
        substeps = 1
        step = spec.parameters.get("step_size")
        if step and engine in ("rk4", "euler"):
            interval = (spec.end - spec.start) / spec.points
            substeps = max(1, min(MAX_SUBSTEPS, math.ceil(interval / step - 1e-9)))
            if engine == "rk4":
                substeps = max(1, min(substeps, MAX_COMPUTED_POINTS // spec.points))
        if engine == "euler":
            rr.getIntegrator().setValue("subdivision_steps", substeps)
        points = spec.points * (substeps if engine == "rk4" else 1)
        if spec.start > spec.initial:
            lead = 2 if engine in ("cvode", "gillespie") else max(2, math.ceil(
                (spec.start - spec.initial) / max(spec.end - spec.start, 1e-300) * points) + 1)
            rr.simulate(spec.initial, spec.start, lead, ["time"])
        data = np.asarray(rr.simulate(spec.start, spec.end, points + 1, columns), dtype=float)
        return data[::substeps] if engine == "rk4" else data

    @staticmethod
    def _steady_state(rr, selections: dict[str, str]) -> dict[str, np.ndarray]:
        try:
            rr.steadyState()
        except RuntimeError as exc:
            raise ComputationFailed(f"no steady state was found: {engine_message(exc)}",
                                    code="no_steady_state") from exc
        return {var: np.asarray(float(rr.getValue(sel))) for var, sel in selections.items()}


def draw_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31 - 1)
