"""The dynamic service's job kinds (see :mod:`..jobs.kinds`): simulate, ensemble, scan, steady-state, omex.

Each kind takes the arguments of the synchronous engine function its endpoint calls:

=============  ===========================================================  =================
kind           arguments after the program                                  split into
=============  ===========================================================  =================
simulate       ``spec`` (:func:`.engine.simulate`); with ``repetitions``     one chunk, or
               an ensemble                                                  repetition ranges
ensemble       ``spec`` with ``repetitions``                                repetition ranges
scan           ``spec, grid, output`` (:func:`.engine.scan`)                 grid points
steady-state   ``spec`` (:func:`.engine.steady_state`)                       one chunk
omex           ``archive, limits, service, options`` (no model: the         one chunk
               archive holds it; :func:`..omex.routes.run_archive`)
=============  ===========================================================  =================

The seed is drawn once at submission when the request gives none; run ``i`` of an ensemble is seeded
``seed + i`` and every grid point ``seed``, as in the synchronous path, so the merged answer is the
synchronous answer for that seed whatever the chunking.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import ValidationError
from ..jobs.kinds import Kind, Plan, one_chunk
from ..omex.routes import JOB_KIND as OMEX
from . import engine
from .engine import SimSpec


# -- engine side: checked as the synchronous path checks, before anything is queued ------------------
def plan_simulate(program, spec: SimSpec) -> Plan:
    names, selections = engine.resolve_selections(program.instance(spec.integrator), spec)
    seed = engine.draw_seed(spec)
    engine.prepare(program, spec, seed)  # refuses unknown ids and values the engine refuses, as a run would
    if spec.repetitions is None:
        return Plan()
    engine.check_ensemble(spec.repetitions, spec.points, len(names), spec.return_runs)
    return Plan(items=list(range(spec.repetitions)), context={
        "seed": seed, "names": names, "selections": selections,
        "units": program.units.describe(names, spec.species_values)})


def plan_ensemble(program, spec: SimSpec) -> Plan:
    if spec.repetitions is None:
        raise ValidationError("an ensemble job needs repetitions (Gillespie runs, or CVODE runs of a model "
                              "with random functions)")
    return plan_simulate(program, spec)


def plan_scan(program, spec: SimSpec, grid: dict[str, list[float]], output: str) -> Plan:
    engine.check_grid(program.instance(spec.integrator), grid)
    engine.resolve_selections(program.instance(spec.integrator), spec)
    keys = list(grid)
    points = [list(p) for p in itertools.product(*(grid[k] for k in keys))]
    seed = engine.draw_seed(spec)
    base = spec.parameters
    try:  # the first point's values, as the first run would set them
        spec.parameters = {**base, **dict(zip(keys, points[0]))}
        engine.prepare(program, spec, seed)
    finally:
        spec.parameters = base
    return Plan(items=points, context={"keys": keys, "seed": seed, "units": engine.scan_units(program, spec, keys)})


def plan_steady_state(program, spec: SimSpec) -> Plan:
    engine.prepare(program, spec)
    return Plan()


def ensemble_part(program, spec: SimSpec, selections: list[str], seed: int, first: int, count: int) -> dict:
    time_column, runs = engine.ensemble_runs(program, spec, selections, seed, first, count)
    return {"time": time_column, "runs": runs}


# -- worker side ----------------------------------------------------------------------------------
def part_simulate(args: tuple, context: dict, items: list[int] | None):
    if items is None:
        return engine.simulate, args
    return ensemble_part, (args[0], context["selections"], context["seed"], items[0], len(items))


def merge_simulate(args: tuple, context: dict, parts: list[dict]) -> dict:
    if "seed" not in context:  # one run, one chunk
        return parts[0]
    runs = np.concatenate([part["runs"] for part in parts])
    answer = engine.ensemble_summary(args[0], context["seed"], context["names"], parts[0]["time"], runs,
                                     context.get("units"))
    answer["model"] = parts[0]["model"]
    return answer


def part_scan(args: tuple, context: dict, items: list[list[float]]):
    spec, _, output = args
    return engine.scan_points, (spec, context["keys"], items, output, context["seed"])


def merge_scan(args: tuple, context: dict, parts: list[dict]) -> dict:
    spec, _, output = args
    answer = engine.scan_result(spec, context["keys"], context["seed"], output, parts, context.get("units"))
    answer["model"] = parts[0]["model"]
    return answer


KINDS = (
    Kind("simulate", plan_simulate, part_simulate, merge_simulate, default_chunk=25),
    Kind("ensemble", plan_ensemble, part_simulate, merge_simulate, default_chunk=25),
    Kind("scan", plan_scan, part_scan, merge_scan, default_chunk=100),
    Kind("steady-state", plan_steady_state, *one_chunk(engine.steady_state)),
    OMEX,
)
