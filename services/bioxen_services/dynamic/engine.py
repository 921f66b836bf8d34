"""Kinetic computations as plain functions on a cached :class:`~.programs.Program`.

Each function starts with :func:`prepare`, which picks the program's instance for the integrator and
resets it to the initial state (species, parameters), so nothing one request set is seen by the next.
Trajectories are returned keyed by plain ids (species concentrations, parameters, reaction rates).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

import numpy as np
import roadrunner

from ..errors import ComputationFailed, LimitExceeded, UnknownEntity, ValidationError
from .programs import Program

INTEGRATORS = ("cvode", "gillespie")


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


def species_ids(rr: roadrunner.RoadRunner) -> list[str]:
    return list(rr.model.getFloatingSpeciesIds())


def _all_species(rr) -> list[str]:
    return [*rr.model.getFloatingSpeciesIds(), *rr.model.getBoundarySpeciesIds()]


def _selection(rr, name: str) -> str:
    """A plain id as a RoadRunner selection: species mean their concentration ``[S]``."""
    if name == "time":
        return "time"
    if name in _all_species(rr):
        return f"[{name}]"
    known = {*rr.model.getGlobalParameterIds(), *rr.model.getReactionIds(), *rr.model.getCompartmentIds()}
    if name in known:
        return name
    raise UnknownEntity("selection", [name])


def prepare(program: Program, spec: SimSpec) -> tuple[roadrunner.RoadRunner, int | None]:
    """The instance for the integrator, reset, with the request's parameters and initial conditions.
    Returns it and the seed used (Gillespie only)."""
    rr = program.instance(spec.integrator)
    unknown_p = [p for p in spec.parameters if p not in rr.model.getGlobalParameterIds()]
    if unknown_p:
        raise UnknownEntity("parameter", unknown_p)
    species = _all_species(rr)
    unknown_s = [s for s in spec.initial_conditions if s not in species]
    if unknown_s:
        raise UnknownEntity("species", unknown_s)
    rr.resetAll()
    seed = None
    if spec.integrator == "gillespie":
        seed = spec.seed if spec.seed is not None else random.SystemRandom().randrange(1, 2**31 - 1)
        rr.integrator.seed = seed
        rr.integrator.variable_step_size = False
    for pid, value in spec.parameters.items():
        rr[pid] = value
    for sid, value in spec.initial_conditions.items():
        rr[f"[{sid}]"] = value
    return rr, seed


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
        raise ComputationFailed(f"the integrator failed: {str(exc).strip()[:300]}") from exc


def resolve_selections(rr, names: list[str] | None) -> tuple[list[str], list[str]]:
    names = species_ids(rr) if names is None else [n for n in names if n != "time"]
    return names, ["time", *(_selection(rr, n) for n in names)]


def simulate(program: Program, spec: SimSpec) -> dict:
    names, selections = resolve_selections(program.rr, spec.selections)
    rr, seed = prepare(program, spec)
    data = _simulate(program, rr, spec, selections)
    result = {"time": _column(data[:, 0]),
              "trajectories": {n: _column(data[:, i + 1]) for i, n in enumerate(names)},
              "integrator": spec.integrator, "status": "success"}
    if seed is not None:
        result["seed"] = seed
    return result


#: largest |d[S]/dt| accepted as a steady state, relative to the largest concentration (or 1)
STEADY_STATE_TOLERANCE = 1e-6


def steady_state(program: Program, spec: SimSpec) -> dict:
    rr, _ = prepare(program, spec)
    try:
        rr.steadyState()
    except RuntimeError as exc:
        raise ComputationFailed(f"no steady state was found: {str(exc).strip()[:300]}",
                                code="no_steady_state") from exc
    residual = np.abs(rr.model.getFloatingSpeciesConcentrationRates())
    scale = max(1.0, float(np.max(np.abs(rr.model.getFloatingSpeciesConcentrations()), initial=0.0)))
    if residual.size and float(residual.max()) > STEADY_STATE_TOLERANCE * scale:
        raise ComputationFailed(f"the steady-state solver stopped with rates up to {residual.max():.3g}: "
                                "no steady state was found", code="no_steady_state")
    values = rr.model.getFloatingSpeciesConcentrations()
    rates = rr.model.getReactionRates()
    return {"status": "success",
            "steady_state": dict(zip(species_ids(rr), _column(values))),
            "reaction_rates": dict(zip(rr.model.getReactionIds(), _column(rates)))}


def scan(program: Program, spec: SimSpec, grid: dict[str, list[float]], output: str) -> dict:
    """Simulate every point of the cartesian product of ``grid``; report final values or trajectories."""
    rr = program.rr
    unknown = [p for p in grid if p not in rr.model.getGlobalParameterIds()]
    if unknown:
        raise UnknownEntity("parameter", unknown)
    names, selections = resolve_selections(rr, spec.selections)
    keys = list(grid)
    points = [list(p) for p in itertools.product(*(grid[k] for k in keys))]
    finals: dict[str, list] = {n: [] for n in names}
    trajectories = []
    time = None
    base = dict(spec.parameters)
    for point in points:
        spec.parameters = {**base, **dict(zip(keys, point))}
        rr, _ = prepare(program, spec)
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
    result = {"status": "success", "parameters": keys, "points": points}
    if output == "trajectories":
        result.update(time=time, trajectories=trajectories)
    else:
        result.update(final=finals, time_end=spec.end)
    return result


def describe(program: Program) -> dict:
    rr = program.rr
    rr.resetAll()  # the program as shipped, not with the parameters the last request set
    return {"floating_species": species_ids(rr),
            "boundary_species": list(rr.model.getBoundarySpeciesIds()),
            "parameters": {p: float(rr[p]) for p in rr.model.getGlobalParameterIds()},
            "reactions": list(rr.model.getReactionIds())}


def check_time_span(start: float, end: float, points: int, max_points: int) -> None:
    if start < 0:
        raise ValidationError(f"start must be at least 0, got {start}")
    if not end > start:
        raise ValidationError(f"end ({end}) must be after start ({start})")
    if points < 2:
        raise ValidationError(f"points must be at least 2, got {points}")
    if points > max_points:
        raise LimitExceeded(f"{points} time points exceed the limit of {max_points}")
