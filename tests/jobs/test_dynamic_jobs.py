"""Dynamic jobs (issue 14) against a real redis-server and a real worker: stochastic ensembles
reproducible for a seed whatever the chunking, scans and single runs identical to the synchronous
engine functions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bioxen_services.dynamic import engine
from bioxen_services.dynamic.engine import SimSpec
from bioxen_services.errors import ServiceError
from bioxen_services.modelref import ModelRef
from bioxen_services.web import json_response
from jobs_support import finished, sync

GENE_EXPRESSION = ModelRef("id", "gene_expression")


def _same(a, b) -> None:
    """The same answer as the service would serve it: the JSON bytes (every float as its shortest
    round-trip text, so equal bytes are equal numbers)."""
    assert json_response(a).get_data() == json_response(b).get_data()


def _ensemble_spec(**changes) -> SimSpec:
    return dataclasses.replace(SimSpec(end=20.0, points=21, integrator="gillespie", repetitions=30, seed=1234,
                                       return_runs=True), **changes)


@pytest.mark.slow
def test_an_ensemble_is_the_same_for_a_seed_whatever_the_chunking(dynamic_jobs, dynamic_worker):
    spec = _ensemble_spec()
    answers = []
    for size in (1, 7, 30):
        job = dynamic_jobs.submit("ensemble", GENE_EXPRESSION, spec, chunk_size=size)
        assert job.total == -(-30 // size)
        assert finished(dynamic_jobs, job.id).status == "succeeded"
        answers.append(dynamic_jobs.result(job.id))
    expected = sync(dynamic_jobs, "simulate", engine.simulate, GENE_EXPRESSION, spec)
    for answer in answers:
        _same(answer, expected)
    assert answers[0]["seed"] == 1234 and answers[0]["repetitions"] == 30 and len(answers[0]["runs"]) == 30
    assert np.asarray(answers[0]["sd"]["protein"]).max() > 0  # really stochastic


def test_an_ensemble_without_a_seed_draws_one_at_submission(dynamic_jobs, dynamic_worker):
    spec = _ensemble_spec(seed=None, return_runs=False, repetitions=12)
    job = dynamic_jobs.submit("simulate", GENE_EXPRESSION, spec, chunk_size=5)  # simulate with repetitions
    assert finished(dynamic_jobs, job.id).status == "succeeded"
    answer = dynamic_jobs.result(job.id)
    seed = answer["seed"]
    assert isinstance(seed, int) and "runs" not in answer
    reference = dataclasses.replace(spec, seed=seed)
    _same(answer, sync(dynamic_jobs, "simulate", engine.simulate, GENE_EXPRESSION, reference))


@pytest.mark.parametrize("output", ["final", "trajectories"])
def test_a_scan_job_gives_the_synchronous_answer(dynamic_jobs, dynamic_worker, output):
    spec = SimSpec(end=10.0, points=11, selections=["mRNA", "protein"])
    grid = {"k_transcription": [0.5, 1.0, 2.0, 4.0], "k_translation": [0.2, 0.4, 0.8]}
    job = dynamic_jobs.submit("scan", GENE_EXPRESSION, spec, grid, output, chunk_size=5)
    assert job.total == 3
    assert finished(dynamic_jobs, job.id).status == "succeeded"
    _same(dynamic_jobs.result(job.id), sync(dynamic_jobs, "scan", engine.scan, GENE_EXPRESSION, spec, grid, output))


def test_one_chunk_kinds_simulate_and_steady_state(dynamic_jobs, dynamic_worker):
    run = SimSpec(end=10.0, points=100)
    steady = SimSpec(parameters={"k_transcription": 2.0})
    jobs = {"simulate": dynamic_jobs.submit("simulate", GENE_EXPRESSION, run),
            "steady_state": dynamic_jobs.submit("steady-state", GENE_EXPRESSION, steady)}
    assert all(job.total == 1 for job in jobs.values())
    for job in jobs.values():
        assert finished(dynamic_jobs, job.id).status == "succeeded"
    answer = dynamic_jobs.result(jobs["simulate"].id)
    _same(answer, sync(dynamic_jobs, "simulate", engine.simulate, GENE_EXPRESSION, run))
    assert answer["trajectories"]["protein"][-1] == pytest.approx(0.487050, abs=1e-6)  # the design notes' value
    _same(dynamic_jobs.result(jobs["steady_state"].id),
          sync(dynamic_jobs, "steady_state", engine.steady_state, GENE_EXPRESSION, steady))


@pytest.mark.parametrize("kind,args,code,text", [
    ("ensemble", (SimSpec(),), "invalid_request", "an ensemble job needs repetitions"),
    ("scan", (SimSpec(), {"nope": [1.0]}, "final"), "unknown_parameter", "unknown parameter: 'nope'"),
    ("simulate", (SimSpec(selections=["nope"]),), "unknown_selection", "nope"),
    ("steady-state", (SimSpec(initial_conditions={"nope": 1.0}),), "unknown_species", "unknown species"),
    ("ensemble", (SimSpec(repetitions=20_000, integrator="gillespie"),), "limit_exceeded", "repetitions exceed"),
])
def test_a_bad_request_is_refused_at_submission(dynamic_jobs, clean_redis, kind, args, code, text):
    with pytest.raises(ServiceError) as caught:
        dynamic_jobs.submit(kind, GENE_EXPRESSION, *args)
    assert caught.value.code == code and text in caught.value.message
    assert clean_redis.client().keys("bioxen:job:*") == []
