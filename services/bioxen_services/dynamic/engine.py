"""Kinetic computations as plain functions on a cached :class:`~.programs.Program`.

Each function starts with :func:`prepare`, which picks the program's instance for the integrator and
brings it back to the state of a freshly loaded engine (:meth:`~.programs.Program.restore`), so nothing
one request set or ran is seen by the next. Trajectories are keyed by the selections as sent: ``[S]`` is
the concentration of species S, a bare ``S`` its concentration or amount (``species_values``),
other ids parameters, compartments and reaction rates. Results are plain dicts, lists and arrays; each
says in ``units`` what its numbers are measured in (:mod:`.units`, read once per compiled model).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

import numpy as np
import roadrunner

from ..errors import ComputationFailed, LimitExceeded, UnknownEntity, ValidationError
from .programs import Program, engine_message

INTEGRATORS = ("cvode", "gillespie")
SPECIES_VALUES = ("concentrations", "amounts")
#: most repetitions of one stochastic ensemble, and most values it may compute (runs x points x selections)
MAX_REPETITIONS = 10_000
MAX_ENSEMBLE_VALUES = 20_000_000
#: most values of the individual runs an ensemble answer may carry (``return_runs``)
MAX_RETURNED_RUN_VALUES = 2_000_000


@dataclass
class SimSpec:
    start: float = 0.0
    end: float = 10.0
    points: int = 100
    selections: list[str] | None = None
    parameters: dict[str, float] = field(default_factory=dict)
    initial_conditions: dict[str, float] = field(default_factory=dict)
    integrator: str = "cvode"
    seed: int | None = None
    #: what a bare species id means in selections, initial conditions and the default output
    species_values: str = "concentrations"
    absolute_tolerance: float | None = None
    relative_tolerance: float | None = None
    #: ensembles: this many runs (Gillespie, or CVODE with random functions), reported as mean and sd
    #: per point (``None``: one run)
    repetitions: int | None = None
    return_runs: bool = False
    #: the default output: "species" (floating and boundary), or "floating" (the phase-1 contract)
    default_output: str = "species"


def species_ids(rr: roadrunner.RoadRunner) -> list[str]:
    return list(rr.model.getFloatingSpeciesIds())


def _all_species(rr) -> list[str]:
    return [*rr.model.getFloatingSpeciesIds(), *rr.model.getBoundarySpeciesIds()]


def _model_ids(rr) -> set[str]:
    return {*_all_species(rr), *rr.model.getGlobalParameterIds(), *rr.model.getReactionIds(),
            *rr.model.getCompartmentIds()}


def _bracketed(name: str) -> str | None:
    return name[1:-1] if len(name) > 2 and name[0] == "[" and name[-1] == "]" else None


def _selection(rr, name: str, amounts: bool) -> str:
    """A request's selection as a RoadRunner selection: ``[S]`` is the concentration of S; a bare
    species id its amount or concentration as ``species_values`` says; other ids (parameters,
    compartments, reactions, species references) their value."""
    species = _all_species(rr)
    inner = _bracketed(name)
    if inner is not None and inner in species:
        return name
    if name in species:
        return name if amounts else f"[{name}]"
    if name in _model_ids(rr) or name == "time":
        return name
    if inner is None and name.isidentifier():
        try:  # any other SBML id with a value (a species reference's stoichiometry ...)
            rr.getValue(name)
            return name
        except RuntimeError:
            pass
    raise UnknownEntity("selection", [name])


def default_selections(rr, output: str = "species") -> list[str]:
    """Every species (floating, then boundary); for a model without species, what its rules define
    (or every parameter and compartment): the ids a time course of it is about."""
    species = species_ids(rr) if output == "floating" else _all_species(rr)
    if species:
        return species
    ruled = [*rr.getRateRuleIds(), *rr.getAssignmentRuleIds()]
    return ruled or [*rr.model.getGlobalParameterIds(), *rr.model.getCompartmentIds()]


def _set_values(program: Program, rr, spec: SimSpec) -> None:
    amounts = spec.species_values == "amounts"
    unknown_p = [p for p in spec.parameters if p not in rr.model.getGlobalParameterIds()]
    if unknown_p:
        raise UnknownEntity("parameter", unknown_p)
    species = _all_species(rr)
    unknown_s = [s for s in spec.initial_conditions if (_bracketed(s) or s) not in species]
    if unknown_s:
        raise UnknownEntity("species", unknown_s)
    ruled = sorted({*spec.parameters, *(_bracketed(s) or s for s in spec.initial_conditions)}
                   & program.rule_defined)
    if ruled:
        raise ValidationError(f"{', '.join(map(repr, ruled))} {'is' if len(ruled) == 1 else 'are'} defined "
                              "by an assignment rule of the model and cannot be set; set what the rule "
                              "depends on instead", code="rule_defined")
    try:
        for pid, value in spec.parameters.items():
            rr.setValue(pid, value)
        for sid, value in spec.initial_conditions.items():
            rr.setValue(sid if _bracketed(sid) or amounts else f"[{sid}]", value)
    except RuntimeError as exc:
        raise ValidationError(f"the engine refused a value: {engine_message(exc)}") from exc


def prepare(program: Program, spec: SimSpec, seed: int | None = None) -> roadrunner.RoadRunner:
    """The instance for the integrator as freshly loaded, with the request's integrator settings,
    parameters and initial conditions, and ``seed`` for its random numbers (Gillespie's, and those
    of random functions such as distrib's ``normal()`` under CVODE)."""
    rr = program.instance(spec.integrator)
    program.restore(rr)
    integrator = rr.getIntegrator()
    if spec.integrator == "gillespie":
        integrator.setValue("seed", seed)
        integrator.setValue("variable_step_size", False)
    else:
        for name, default in program.default_tolerances.items():
            value = getattr(spec, name)
            integrator.setValue(name, default if value is None else value)
        if seed is not None:
            rr.setSeed(seed)
    _set_values(program, rr, spec)
    return rr


def draw_seed(spec: SimSpec) -> int | None:
    """The request's seed; one drawn for a Gillespie run or an ensemble that gives none."""
    if spec.seed is not None or (spec.integrator != "gillespie" and spec.repetitions is None):
        return spec.seed
    return random.SystemRandom().randrange(1, 2**31 - 1)


def _column(values) -> np.ndarray | list:
    """A column of results for JSON: a contiguous float array (written as-is by the JSON encoder), or,
    when it holds a non-finite number, a list with null in its place."""
    column = np.ascontiguousarray(values, dtype=float)
    if np.isfinite(column).all():
        return column
    return [v if math.isfinite(v) else None for v in column.tolist()]


def _simulate(program: Program, rr, spec: SimSpec, selections: list[str]):
    """One run. It may be long (one C call): the front kills this engine process at the deadline."""
    try:
        return rr.simulate(spec.start, spec.end, spec.points, selections)
    except RuntimeError as exc:
        raise ComputationFailed(f"the integrator failed: {engine_message(exc)}") from exc


def resolve_selections(rr, spec: SimSpec) -> tuple[list[str], list[str]]:
    """The output keys (the selections as sent, or the default ids) and the RoadRunner selections.
    ``time`` is always the first column (and a selection only where the model has an id ``time``)."""
    names = default_selections(rr, spec.default_output) if spec.selections is None \
        else [n for n in spec.selections if n != "time" or "time" in _model_ids(rr)]
    amounts = spec.species_values == "amounts"
    return names, ["time", *(_selection(rr, n, amounts) for n in names)]


def simulate(program: Program, spec: SimSpec) -> dict:
    names, selections = resolve_selections(program.instance(spec.integrator), spec)
    if spec.repetitions is not None:
        return _ensemble(program, spec, names, selections)
    seed = draw_seed(spec)
    rr = prepare(program, spec, seed)
    data = _simulate(program, rr, spec, selections)
    result = {"time": _column(data[:, 0]),
              "trajectories": {n: _column(data[:, i + 1]) for i, n in enumerate(names)},
              "integrator": spec.integrator, "species_values": spec.species_values, "status": "success",
              "units": program.units.describe(names, spec.species_values)}
    if seed is not None:
        result["seed"] = seed
    return result


def check_ensemble(repetitions: int, points: int, selections: int, return_runs: bool) -> None:
    """Refuse (422) an ensemble past the limits before any run."""
    if repetitions > MAX_REPETITIONS:
        raise LimitExceeded(f"{repetitions} repetitions exceed the limit of {MAX_REPETITIONS}")
    values = repetitions * points * max(1, selections)
    if values > MAX_ENSEMBLE_VALUES:
        raise LimitExceeded(f"repetitions x points x selections = {values} exceeds the limit of "
                            f"{MAX_ENSEMBLE_VALUES}; ask for fewer points, selections or repetitions")
    if return_runs and values > MAX_RETURNED_RUN_VALUES:
        raise LimitExceeded(f"return_runs with {values} values exceeds the limit of "
                            f"{MAX_RETURNED_RUN_VALUES}; ask for the mean and sd only")


def _ensemble(program: Program, spec: SimSpec, names: list[str], selections: list[str]) -> dict:
    """``spec.repetitions`` runs, run i seeded ``seed + i``: mean and sample sd per point. Gillespie
    runs, or CVODE runs of a model with random functions (distrib)."""
    check_ensemble(spec.repetitions, spec.points, len(names), spec.return_runs)
    seed = draw_seed(spec)
    time_column, runs = ensemble_runs(program, spec, selections, seed, 0, spec.repetitions)
    units = program.units.describe(names, spec.species_values)
    return ensemble_summary(spec, seed, names, time_column, runs, units)


def ensemble_runs(program: Program, spec: SimSpec, selections: list[str], seed: int, first: int,
                  count: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs ``first`` .. ``first + count - 1`` of an ensemble (run i seeded ``seed + i``, so any split
    of the repetitions gives the same runs): the time column and the runs (count x points x names)."""
    runs = np.empty((count, spec.points, len(selections) - 1))
    time_column = None
    for k in range(count):
        rr = prepare(program, spec, seed + first + k)
        data = np.asarray(_simulate(program, rr, spec, selections))
        time_column = data[:, 0]
        runs[k] = data[:, 1:]
    return time_column, runs


def ensemble_summary(spec: SimSpec, seed: int, names: list[str], time_column: np.ndarray,
                     runs: np.ndarray, units: dict | None) -> dict:
    """The ensemble's answer from all its runs (repetitions x points x names); ``units`` its field."""
    mean = runs.mean(axis=0)
    sd = runs.std(axis=0, ddof=1) if spec.repetitions > 1 else np.zeros_like(mean)
    result = {"time": _column(time_column), "integrator": spec.integrator, "seed": seed,
              "repetitions": spec.repetitions, "species_values": spec.species_values,
              "mean": {n: _column(mean[:, k]) for k, n in enumerate(names)},
              "sd": {n: _column(sd[:, k]) for k, n in enumerate(names)},
              "status": "success", "units": units}
    if spec.return_runs:
        result["runs"] = [{n: _column(run[:, k]) for k, n in enumerate(names)} for run in runs]
    return result


#: largest |d[S]/dt| accepted as a steady state, relative to the largest concentration (or 1)
STEADY_STATE_TOLERANCE = 1e-6


def steady_state(program: Program, spec: SimSpec) -> dict:
    rr = prepare(program, spec)
    try:
        rr.steadyState()
    except RuntimeError as exc:
        raise ComputationFailed(f"no steady state was found: {engine_message(exc)}",
                                code="no_steady_state") from exc
    residual = np.abs(rr.model.getFloatingSpeciesConcentrationRates())
    scale = max(1.0, float(np.max(np.abs(rr.model.getFloatingSpeciesConcentrations()), initial=0.0)))
    if residual.size and float(residual.max()) > STEADY_STATE_TOLERANCE * scale:
        raise ComputationFailed(f"the steady-state solver stopped with rates up to {residual.max():.3g}: "
                                "no steady state was found", code="no_steady_state")
    values = (rr.model.getFloatingSpeciesAmounts() if spec.species_values == "amounts"
              else rr.model.getFloatingSpeciesConcentrations())
    rates = rr.model.getReactionRates()
    names = [*species_ids(rr), *rr.model.getReactionIds()]
    return {"status": "success", "species_values": spec.species_values,
            "units": program.units.describe(names, spec.species_values),
            "steady_state": dict(zip(species_ids(rr), _column(values))),
            "reaction_rates": dict(zip(rr.model.getReactionIds(), _column(rates)))}


def scan(program: Program, spec: SimSpec, grid: dict[str, list[float]], output: str) -> dict:
    """Simulate every point of the cartesian product of ``grid``; report final values or trajectories."""
    check_grid(program.instance(spec.integrator), grid)
    keys = list(grid)
    points = [list(p) for p in itertools.product(*(grid[k] for k in keys))]
    seed = draw_seed(spec)
    return scan_result(spec, keys, seed, output, [scan_points(program, spec, keys, points, output, seed)],
                       scan_units(program, spec, keys))


def scan_units(program: Program, spec: SimSpec, keys: list[str]) -> dict:
    """The ``units`` of a scan's answer: its selections' and the scanned parameters'."""
    names, _ = resolve_selections(program.instance(spec.integrator), spec)
    return program.units.describe([*names, *keys], spec.species_values)


def check_grid(rr, grid: dict[str, list[float]]) -> None:
    unknown = [p for p in grid if p not in rr.model.getGlobalParameterIds()]
    if unknown:
        raise UnknownEntity("parameter", unknown)


def scan_points(program: Program, spec: SimSpec, keys: list[str], points: list[list[float]], output: str,
                seed: int | None) -> dict:
    """Part of a scan: the runs at ``points`` (values of the parameters ``keys``), each seeded ``seed``."""
    names, selections = resolve_selections(program.instance(spec.integrator), spec)
    finals: dict[str, list] = {n: [] for n in names}
    trajectories = []
    time = None
    base = dict(spec.parameters)
    for point in points:
        spec.parameters = {**base, **dict(zip(keys, point))}
        rr = prepare(program, spec, seed)
        data = _simulate(program, rr, spec, selections)
        if output == "trajectories":
            if time is None:
                time = _column(data[:, 0])
            trajectories.append({n: _column(data[:, i + 1]) for i, n in enumerate(names)})
        else:
            last = data[-1]
            for i, n in enumerate(names):
                v = float(last[i + 1])
                finals[n].append(v if math.isfinite(v) else None)
    spec.parameters = base
    if output == "trajectories":
        return {"points": points, "time": time, "trajectories": trajectories}
    return {"points": points, "final": finals}


def scan_result(spec: SimSpec, keys: list[str], seed: int | None, output: str, parts: list[dict],
                units: dict | None) -> dict:
    """A scan's answer from its parts (:func:`scan_points`), in the order of the grid's points."""
    result = {"status": "success", "parameters": keys, "points": [p for part in parts for p in part["points"]],
              "species_values": spec.species_values, "units": units}
    if seed is not None:
        result["seed"] = seed
    if output == "trajectories":
        result.update(time=parts[0]["time"], trajectories=[t for part in parts for t in part["trajectories"]])
    else:
        names = list(parts[0]["final"])
        result.update(final={n: [v for part in parts for v in part["final"][n]] for n in names},
                      time_end=spec.end)
    return result


def describe(program: Program) -> dict:
    rr = program.rr
    program.restore(rr)  # the program as shipped, not with the parameters the last request set
    return {"floating_species": species_ids(rr),
            "boundary_species": list(rr.model.getBoundarySpeciesIds()),
            "parameters": {p: float(rr.getValue(p)) for p in rr.model.getGlobalParameterIds()},
            "reactions": list(rr.model.getReactionIds())}
