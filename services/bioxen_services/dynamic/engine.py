"""Kinetic computations as plain functions on a cached RoadRunner.

Each function starts with :func:`prepare`, which resets the instance to the program's initial state
(species, parameters, integrator), so nothing one request set is seen by the next.
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


def prepare(rr: roadrunner.RoadRunner, spec: SimSpec) -> int | None:
    """Reset, choose the integrator, apply parameters and initial conditions. Returns the seed used."""
    unknown_p = [p for p in spec.parameters if p not in rr.model.getGlobalParameterIds()]
    if unknown_p:
        raise UnknownEntity("parameter", unknown_p)
    species = _all_species(rr)
    unknown_s = [s for s in spec.initial_conditions if s not in species]
    if unknown_s:
        raise UnknownEntity("species", unknown_s)
    if rr.integrator.getName() != spec.integrator:
        rr.setIntegrator(spec.integrator)
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
    return seed


def _column(values) -> list:
    column = np.asarray(values, dtype=float)
    if np.isfinite(column).all():
        return column.tolist()
    return [v if math.isfinite(v) else None for v in column.tolist()]


def _simulate(rr, spec: SimSpec, selections: list[str]):
    try:
        return rr.simulate(spec.start, spec.end, spec.points, selections)
    except RuntimeError as exc:
        raise ComputationFailed(f"the integrator failed: {str(exc).strip()[:300]}") from exc


def resolve_selections(rr, names: list[str] | None) -> tuple[list[str], list[str]]:
    names = species_ids(rr) if names is None else [n for n in names if n != "time"]
    return names, ["time", *(_selection(rr, n) for n in names)]


def simulate(rr: roadrunner.RoadRunner, spec: SimSpec) -> dict:
    names, selections = resolve_selections(rr, spec.selections)
    seed = prepare(rr, spec)
    data = _simulate(rr, spec, selections)
    result = {"time": _column(data[:, 0]),
              "trajectories": {n: _column(data[:, i + 1]) for i, n in enumerate(names)},
              "integrator": spec.integrator, "status": "success"}
    if seed is not None:
        result["seed"] = seed
    return result


def final_state(rr: roadrunner.RoadRunner) -> list[float]:
    return _column(rr.model.getFloatingSpeciesConcentrations())


def steady_state(rr: roadrunner.RoadRunner, spec: SimSpec) -> dict:
    prepare(rr, spec)
    try:
        rr.steadyState()
    except RuntimeError as exc:
        raise ComputationFailed(f"no steady state was found: {str(exc).strip()[:300]}",
                                code="no_steady_state") from exc
    values = rr.model.getFloatingSpeciesConcentrations()
    rates = rr.model.getReactionRates()
    return {"status": "success",
            "steady_state": dict(zip(species_ids(rr), _column(values))),
            "reaction_rates": dict(zip(rr.model.getReactionIds(), _column(rates)))}


def scan(rr: roadrunner.RoadRunner, spec: SimSpec, grid: dict[str, list[float]], output: str) -> dict:
    """Simulate every point of the cartesian product of ``grid``; report final values or trajectories."""
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
        prepare(rr, spec)
        data = _simulate(rr, spec, selections)
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


def describe(rr: roadrunner.RoadRunner) -> dict:
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
