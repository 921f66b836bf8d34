"""Static jobs (issue 14) against a real redis-server and real worker processes: results identical to
the synchronous engine functions, a worker SIGKILLed mid-chunk, a poison chunk, cancellation, the
service side restarting, results expiring."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bioxen_services.errors import JobNotFinished, JobsUnavailable, LimitExceeded, ServiceError, UnknownJob
from bioxen_services.static import engine
from bioxen_services.static.dfba import DfbaProblem, run_dfba
from bioxen_services.static.engine import Changes, Deletion
from bioxen_services.static.routes import knockout_batch
from bioxen_services.modelref import ModelRef
from jobs_support import WorkerProcess, finished, service_app, sync
from support import MODELS, ROOT, metric_value, wait_for

ECOLI = ModelRef("id", "e_coli_core")
YEAST = ModelRef("id", "iMM904")
GLUCOSE = Changes(bounds={"EX_glc__D_e": (-8.0, 1000.0)})


def _reactions(jobs, ref: ModelRef, count: int) -> list[str]:
    return sync(jobs, "describe", engine.describe_model, ref, True)["reaction_ids"][:count]


# -- identical answers ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_an_fva_job_gives_the_synchronous_answer_exactly(static_jobs, static_worker):
    reactions = _reactions(static_jobs, YEAST, 300)
    args = (GLUCOSE, reactions, 0.9, False)
    job = static_jobs.submit("fva", YEAST, *args, chunk_size=64)  # 5 chunks of 64 (2 restart blocks each)
    assert job.status == "queued" and job.total == 5 and len(job.id) >= 22
    done = finished(static_jobs, job.id)
    assert done.status == "succeeded", done.error
    assert (done.done, done.total) == (5, 5) and done.created <= done.started <= done.finished
    answer = static_jobs.result(job.id)
    assert answer == sync(static_jobs, "fva", engine.run_fva, YEAST, *args)  # every float, to the last bit
    assert list(answer["ranges"]) == reactions and answer["model"]["id"] == "iMM904"
    body = done.to_dict()
    assert body["progress"] == {"done": 5, "total": 5} and body["created"].endswith("Z")
    assert metric_value(static_worker.metrics(), "bioxen_job_chunk_duration_seconds_count", kind="fva") == 5


def test_the_whole_model_in_chunks_sized_by_estimate(static_jobs, ecoli_worker):
    """No reactions named: every reaction, chunks sized from the model (e_coli_core: one chunk)."""
    job = static_jobs.submit("fva", ECOLI, Changes(), None, 1.0, False)
    assert job.total == 1
    assert finished(static_jobs, job.id).status == "succeeded"
    assert static_jobs.result(job.id) == sync(static_jobs, "fva", engine.run_fva, ECOLI, Changes(), None, 1.0, False)


@pytest.mark.slow
def test_knockout_jobs_all_single_and_all_double_gene_deletions(static_jobs, ecoli_worker):
    single = static_jobs.submit("knockouts", ECOLI, GLUCOSE, [Deletion(reactions=["PGI"])], ["genes"], chunk_size=40)
    pairs = static_jobs.submit("knockouts", ECOLI, Changes(), [], ["gene_pairs"])
    assert single.total == 4  # 1 + 137 deletions
    assert finished(static_jobs, single.id).status == "succeeded"
    assert static_jobs.result(single.id) == sync(static_jobs, "knockouts", knockout_batch, ECOLI, GLUCOSE,
                                                 [Deletion(reactions=["PGI"])], ["genes"], 10_000)
    done = finished(static_jobs, pairs.id, timeout=300)
    assert done.status == "succeeded", done.error
    answer = static_jobs.result(pairs.id)
    assert len(answer["results"]) == 137 * 136 // 2 == 9316  # cobra's double_gene_deletion of e_coli_core
    genes = [r["genes"] for r in answer["results"][:3]]
    expected = sync(static_jobs, "knockouts", engine.run_knockouts, ECOLI, Changes(),
                    [Deletion(genes=g) for g in genes])
    assert answer["results"][:3] == expected["results"]
    assert answer["wild_type_growth"] == pytest.approx(0.873922, abs=1e-6)


def test_one_chunk_kinds_fba_and_dfba(static_jobs, ecoli_worker):
    problem = DfbaProblem(biomass=0.05, concentrations={"EX_glc__D_e": 10.0}, end=4.0, points=9)
    fba = static_jobs.submit("fba", ECOLI, GLUCOSE, "pfba", ["PGI", "BIOMASS_Ecoli_core_w_GAM"])
    dfba = static_jobs.submit("dfba", ECOLI, problem)
    assert (fba.total, dfba.total) == (1, 1)
    assert finished(static_jobs, fba.id).status == "succeeded"
    assert static_jobs.result(fba.id) == sync(static_jobs, "pfba", engine.run_fba, ECOLI, GLUCOSE, "pfba",
                                              ["PGI", "BIOMASS_Ecoli_core_w_GAM"])
    assert finished(static_jobs, dfba.id).status == "succeeded"
    assert static_jobs.result(dfba.id) == sync(static_jobs, "dfba", run_dfba, ECOLI, problem)


def test_an_inline_model_goes_into_the_store_once_and_each_engine_compiles_it_once(static_jobs, ecoli_worker,
                                                                                  clean_redis):
    # not the shipped text (engines would find that one by its sha256 among the shipped models)
    inline = ModelRef("sbml", MODELS["e_coli_core"].read_text().replace("<model ", "<!-- inline -->\n<model ", 1))
    first = static_jobs.submit("fva", inline, Changes(), None, 1.0, False, chunk_size=32)
    second = static_jobs.submit("fva", ModelRef("sha256", inline.cache_key), Changes(), ["PGI"], 1.0, False)
    for job in (first, second):
        assert finished(static_jobs, job.id).status == "succeeded"
    assert static_jobs.result(first.id) == sync(static_jobs, "fva", engine.run_fva, inline, Changes(), None, 1.0,
                                                False)
    assert clean_redis.client().keys("bioxen:model:*") == [f"bioxen:model:{inline.cache_key}".encode()]
    # 4 chunks on one engine: one compile, then named by sha256 only
    text = ecoli_worker.metrics()
    assert metric_value(text, "bioxen_model_cache_misses_total", source="inline") == 1
    assert metric_value(text, "bioxen_model_cache_hits_total", source="sha256") == 3


# -- the synchronous path's errors at submission -------------------------------------------------------
@pytest.mark.parametrize("kind,ref,args,status,code,text", [
    ("fva", ECOLI, (Changes(), ["PGI", "NOPE"], 1.0, False), 400, "unknown_reaction",
     "unknown reaction in model 'e_coli_core': 'NOPE'"),
    ("knockouts", ECOLI, (Changes(), [Deletion(genes=["b0000"])], []), 400, "unknown_gene", "unknown gene"),
    ("fba", ModelRef("id", "no_such_model"), (Changes(), "fba", None), 404, "unknown_model", "unknown model id"),
    ("fba", ModelRef("sha256", "0" * 64), (Changes(), "fba", None), 404, "model_not_cached", "needs the model text"),
    ("simulate", ECOLI, (None,), 400, "invalid_request", "unknown job kind 'simulate' on the static service"),
    ("dfba", ECOLI, (DfbaProblem(biomass=0.1, concentrations={"PGI": 1.0}, end=1.0),), 400, "invalid_request",
     "exchange (boundary) reactions"),
], ids=["fva-reaction", "knockout-gene", "model-id", "sha256", "kind", "dfba-exchange"])
def test_a_bad_request_is_refused_at_submission(static_jobs, clean_redis, kind, ref, args, status, code, text):
    """The synchronous path's errors (status, code, message), raised by submit before anything is queued."""
    with pytest.raises(ServiceError) as caught:
        static_jobs.submit(kind, ref, *args)
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert text in caught.value.message
    assert clean_redis.client().keys("bioxen:job:*") == []


def test_a_job_past_the_item_limit_is_refused(redis_server, clean_redis):
    app, jobs = service_app("static", redis_server.url, preload="e_coli_core", max_job_items=100)
    try:
        with pytest.raises(LimitExceeded, match="137 items, above the limit of 100"):
            jobs.submit("knockouts", ECOLI, Changes(), [], ["genes"])
    finally:
        app.extensions["bioxen"].runtime.stop()


def test_without_a_redis_url_the_job_layer_says_what_to_set():
    app, jobs = service_app("static", "", preload="none")
    try:
        with pytest.raises(JobsUnavailable) as caught:
            jobs.status("anything")
        assert caught.value.status_code == 503
        assert "set BIOXEN_REDIS_URL (redis://host:port/db)" in caught.value.message
    finally:
        app.extensions["bioxen"].runtime.stop()


def test_unknown_and_unfinished_jobs(static_jobs, clean_redis):
    with pytest.raises(UnknownJob) as caught:
        static_jobs.status("not-a-job")
    assert caught.value.status_code == 404 and "results expired" in caught.value.message
    job = static_jobs.submit("fba", ECOLI, Changes(), "fba", None)  # no worker: stays queued
    with pytest.raises(JobNotFinished) as caught:
        static_jobs.result(job.id)
    assert caught.value.status_code == 409 and "it is queued" in caught.value.message
    assert [j.id for j in static_jobs.list()] == [job.id]


# -- nothing lost ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_worker_killed_mid_chunk_costs_nothing_but_time(static_jobs, clean_redis):
    reactions = _reactions(static_jobs, YEAST, 640)
    args = (Changes(), reactions, 1.0, False)
    first = WorkerProcess("static", clean_redis.url, preload="iMM904").start()
    job = static_jobs.submit("fva", YEAST, *args, chunk_size=64)  # 10 chunks of ~0.7 s
    wait_for(lambda: static_jobs.status(job.id).done >= 2, 60, "two chunks done")
    first.kill()  # SIGKILL: the worker, its template and its engines, mid-chunk
    interrupted = static_jobs.status(job.id)
    assert interrupted.status == "running" and interrupted.done < 10
    with WorkerProcess("static", clean_redis.url, preload="iMM904") as second:
        done = finished(static_jobs, job.id, timeout=120)
        assert done.status == "succeeded", done.error
        assert metric_value(second.metrics(), "bioxen_job_chunk_retries_total", reason="worker_lost") == 1
    assert static_jobs.result(job.id) == sync(static_jobs, "fva", engine.run_fva, YEAST, *args)


@pytest.mark.slow
def test_a_poison_chunk_fails_its_job_after_three_attempts_and_the_worker_lives_on(static_jobs, static_worker):
    """What a native abort (GLPK's ``assert``) or the kernel's OOM killer does to the engine running a
    chunk, done with SIGKILL each time the chunk starts again: three attempts, then the job fails with
    an error that says so; the worker itself never stops."""
    job = static_jobs.submit("fva", YEAST, Changes(), None, 1.0, False, chunk_size=2000)  # one ~20 s chunk
    killed: set[int] = set()

    def kill_busy_engine():
        for proc in static_worker.engines():
            if proc.pid not in killed and proc.cpu_times().user > 0.5:  # computing, not just forked
                killed.add(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
        return static_jobs.status(job.id).status == "failed"

    wait_for(kill_busy_engine, 120, "the poison job fails", poll=0.2)
    failed = static_jobs.status(job.id)
    assert len(killed) == 3
    assert failed.error["code"] == "chunk_failed" and failed.error["status"] == 500
    assert "chunk 1 of 1 of this fva job ended without an answer on each of its 3 attempts" in failed.error["message"]
    assert "the engine process died during this fva computation" in failed.error["message"]
    assert "not retried" not in failed.error["message"]  # the synchronous path's advice, not a job's
    assert failed.error["details"] == {"chunk": 0, "attempts": 3}
    assert static_worker.proc.poll() is None
    assert metric_value(static_worker.metrics(), "bioxen_job_chunk_retries_total", reason="engine_failed") == 2
    after = static_jobs.submit("fba", ECOLI, Changes(), "fba", None)
    assert finished(static_jobs, after.id).status == "succeeded"


@pytest.mark.slow
def test_a_chunk_whose_worker_dies_every_time_fails_its_job(static_jobs, clean_redis):
    """The whole worker (not only the engine) lost on every attempt: RQ requeues the abandoned chunk
    with the same bounded retries, and the fourth start fails the job instead of running it."""
    job = static_jobs.submit("fva", YEAST, Changes(), None, 1.0, False, chunk_size=2000)
    for attempt in range(3):
        worker = WorkerProcess("static", clean_redis.url, preload="iMM904").start()
        wait_for(lambda: any(p.cpu_times().user > 0.5 for p in worker.engines()), 60, "the chunk computes")
        worker.kill()
    with WorkerProcess("static", clean_redis.url, preload="iMM904"):
        failed = finished(static_jobs, job.id, timeout=60)
    assert failed.status == "failed" and failed.error["code"] == "chunk_failed"
    assert "on each of its 3 attempts" in failed.error["message"]
    assert "its worker stopped while running it" in failed.error["message"]


def test_cancel_stops_queued_chunks_at_once(static_jobs, clean_redis):
    job = static_jobs.submit("fva", YEAST, Changes(), None, 1.0, False, chunk_size=32)  # 50 chunks, no worker yet
    queue = static_jobs.store.queue
    assert queue.count == 50 == job.total
    cancelled = static_jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished is not None
    assert queue.count == 0
    assert static_jobs.cancel(job.id).status == "cancelled"  # again: nothing changes
    with pytest.raises(JobNotFinished, match="it was cancelled"):
        static_jobs.result(job.id)


@pytest.mark.slow
def test_cancel_stops_a_running_chunk(static_jobs, static_worker):
    job = static_jobs.submit("fva", YEAST, Changes(), None, 1.0, False, chunk_size=2000)  # one ~20 s chunk
    wait_for(lambda: any(p.cpu_times().user > 0.5 for p in static_worker.engines()), 60, "the chunk computes")
    busy = [p.pid for p in static_worker.engines()]
    started = time.monotonic()
    static_jobs.cancel(job.id)
    wait_for(lambda: not set(busy) & {p.pid for p in static_worker.engines()}, 10, "the engine is stopped")
    assert time.monotonic() - started < 3
    assert static_jobs.status(job.id).status == "cancelled"
    assert metric_value(static_worker.metrics(), "bioxen_engine_restarts_total", reason="client_gone") == 1


SUBMIT_AND_HANG = """
import json, sys, time
sys.path.insert(0, {tests!r})
from jobs_support import service_app
from bioxen_services.static.engine import Changes
from bioxen_services.modelref import ModelRef
app, jobs = service_app("static", {url!r}, preload="iMM904")
job = jobs.submit("fva", ModelRef("id", "iMM904"), Changes(), {reactions!r}, 1.0, False, chunk_size=32)
print(json.dumps(job.to_dict()), flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_the_service_side_restarting_loses_no_job(static_jobs, clean_redis):
    """The process that accepted the job is SIGKILLed right after; another one (here: this test's)
    answers for it, and the job runs to the end."""
    reactions = _reactions(static_jobs, YEAST, 96)
    script = SUBMIT_AND_HANG.format(tests=str(ROOT / "tests" / "jobs"), url=clean_redis.url, reactions=reactions)
    api = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"),
                                                                             os.environ.get("PYTHONPATH", "")])},
                           start_new_session=True)
    try:
        submitted = json.loads(api.stdout.readline())
    finally:
        os.killpg(api.pid, signal.SIGKILL)
        api.wait(10)
        api.stdout.close()
    assert submitted["status"] == "queued" and submitted["progress"]["total"] == 3
    app, restarted = service_app("static", clean_redis.url, preload="none")
    try:
        assert restarted.status(submitted["id"]).status == "queued"
        with WorkerProcess("static", clean_redis.url, preload="iMM904"):
            assert finished(restarted, submitted["id"]).status == "succeeded"
        assert restarted.result(submitted["id"]) == sync(static_jobs, "fva", engine.run_fva, YEAST, Changes(),
                                                         reactions, 1.0, False)
    finally:
        app.extensions["bioxen"].runtime.stop()


def test_results_expire(static_jobs, clean_redis):
    with WorkerProcess("static", clean_redis.url, preload="e_coli_core",
                       env={"BIOXEN_JOB_RESULT_TTL_SECONDS": "2"}):
        job = static_jobs.submit("fba", ECOLI, Changes(), "fba", None)
        assert finished(static_jobs, job.id).status == "succeeded"
        assert static_jobs.result(job.id)["status"] == "optimal"
        assert clean_redis.client().ttl(f"bioxen:job:{job.id}") <= 2
        time.sleep(2.5)
    with pytest.raises(UnknownJob):
        static_jobs.status(job.id)
    assert clean_redis.client().keys(f"bioxen:job:{job.id}*") == []
    assert static_jobs.list() == []


def test_worker_metrics(static_jobs, ecoli_worker):
    job = static_jobs.submit("knockouts", ECOLI, Changes(), [], ["reactions"], chunk_size=30)
    assert finished(static_jobs, job.id).status == "succeeded"
    text = ecoli_worker.metrics()
    assert metric_value(text, "bioxen_jobs", state="succeeded") == 1
    assert metric_value(text, "bioxen_job_queue_length", service="static") == 0
    assert metric_value(text, "bioxen_job_chunks_total", kind="knockouts", outcome="done") == 4
    assert metric_value(text, "bioxen_job_chunk_duration_seconds_count", kind="knockouts") == 4
    assert "bioxen_job_chunk_retries_total" in text
