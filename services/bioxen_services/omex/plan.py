"""What one SED-ML task asks an engine to do: its simulation's kind and times, the algorithm run (the
one asked for or its substitute, :mod:`.kisao`) and the algorithm parameters honoured. Checked for the
service before anything runs, so a task this service cannot run is a 422 naming it, not a failure
half-way through an experiment."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import InvalidArchive, LimitExceeded, UnsupportedTask
from . import kisao

#: a model of a SED-ML document, by its id there (each document has its own engines' models)
ModelKey = str
#: most output points one time course may ask for
MAX_POINTS = 1_000_000
#: the simulation kinds each service runs, per algorithm kind
_RUNS = {kisao.ODE: ("uniformTimeCourse", "oneStep", "steadyState"),
         kisao.SSA: ("uniformTimeCourse", "oneStep"),
         kisao.STEADY: ("steadyState",),
         kisao.FBA: ("steadyState",), kisao.PFBA: ("steadyState",), kisao.FVA: ("steadyState",)}


@dataclass
class SimulationSpec:
    task: str
    sedml: str
    simulation: str
    kind: str
    algorithm: kisao.Algorithm
    requested: str
    #: why the algorithm run is not the one asked for ("" when it is)
    reason: str = ""
    #: honoured algorithm parameters by short name (:data:`.kisao.PARAMETERS`)
    parameters: dict[str, float] = field(default_factory=dict)
    initial: float = 0.0
    start: float = 0.0
    end: float = 0.0
    points: int = 0
    step: float = 0.0
    seed: int | None = None


def simulation_spec(doc, task, sedml: str, service: str, warnings: list[str]) -> SimulationSpec:
    """The spec of ``task`` (a plain Task), refused when this service cannot run it."""
    task_id = task.getId()
    simulation = doc.getSimulation(task.getSimulationReference())
    if simulation is None:
        raise InvalidArchive(f"{sedml}: task {task_id!r} names simulation {task.getSimulationReference()!r}, "
                             "which the document does not define")
    if doc.getModel(task.getModelReference()) is None:
        raise InvalidArchive(f"{sedml}: task {task_id!r} names model {task.getModelReference()!r}, which "
                             "the document does not define")
    kind = simulation.getElementName()
    algorithm = simulation.getAlgorithm()
    requested = kisao.normalise(algorithm.getKisaoID() if algorithm is not None else None)
    chosen = kisao.choose(requested)
    if chosen is None:
        raise UnsupportedTask(task_id, sedml, f"algorithm {requested or '(none given)'} is neither one "
                              "the engines have nor one they have a substitute for")
    used, reason = chosen
    if kisao.SERVICE_OF_KIND[used.kind] != service:
        what = "a flux-balance task" if service == "dynamic" else "a kinetic simulation task"
        raise UnsupportedTask(task_id, sedml, f"{what} ({requested}, {used.name}) is run by the "
                              f"{kisao.SERVICE_OF_KIND[used.kind]} service, not the {service} one")
    if kind not in _RUNS[used.kind]:
        raise UnsupportedTask(task_id, sedml, f"a {kind} simulation cannot be run with {used.name}")
    spec = SimulationSpec(task_id, sedml, simulation.getId(), kind, used, requested, reason or "")
    for i in range(algorithm.getNumAlgorithmParameters()):
        parameter = algorithm.getAlgorithmParameter(i)
        pid = kisao.normalise(parameter.getKisaoID())
        name = kisao.PARAMETERS.get(pid)
        try:
            value = float(parameter.getValue())
        except (TypeError, ValueError):
            value = math.nan
        if name is None or not math.isfinite(value):
            warnings.append(f"task {task_id!r}: algorithm parameter {pid}={parameter.getValue()!r} is not "
                            "one this service honours; ignored")
            continue
        spec.parameters[name] = value
    if "seed" in spec.parameters:
        spec.seed = int(spec.parameters["seed"])
    if kind == "uniformTimeCourse":
        spec.initial, spec.start = simulation.getInitialTime(), simulation.getOutputStartTime()
        spec.end, spec.points = simulation.getOutputEndTime(), int(simulation.getNumberOfPoints())
        if not (spec.initial <= spec.start <= spec.end) or spec.points < 1:
            raise InvalidArchive(f"{sedml}: simulation {simulation.getId()!r} needs initialTime <= "
                                 "outputStartTime <= outputEndTime and numberOfPoints >= 1")
        if spec.points > MAX_POINTS:
            raise LimitExceeded(f"{sedml}: simulation {simulation.getId()!r} asks for {spec.points} points; "
                                f"the limit is {MAX_POINTS}")
    elif kind == "oneStep":
        spec.step = simulation.getStep()
    return spec
