"""The VM side of jobs (issue 14): ``client.submit`` / :class:`bioxen_vm.Job` and ``bioxen job ...`` against a
real static service (``bioxen serve``), a real redis-server and a real worker (``bioxen worker``). Nothing
is mocked: results are compared with the synchronous endpoint's answers."""

from __future__ import annotations

import json
import subprocess

import pytest
import redis
from bioxen_vm import (
    BiologicalComputationClient,
    ClientRequestError,
    Job,
    JobTimeout,
    ServiceError,
)
from bioxen_vm.results import FbaResult, FvaResult
from jobs_support import WorkerProcess
from support import BIN, MODELS, ServiceProcess, wait_for

GLUCOSE = {"EX_glc__D_e": [-8.0, 1000.0]}


@pytest.fixture(scope="module")
def redis_url(redis_server) -> str:
    """Database 1 of the session's redis-server: the other job tests flush database 0."""
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="module")
def service(redis_url):
    with ServiceProcess("static", env={"BIOXEN_REDIS_URL": redis_url}, preload="e_coli_core") as proc:
        yield proc


@pytest.fixture(scope="module")
def worker(redis_url):
    with WorkerProcess("static", redis_url, preload="e_coli_core") as proc:
        yield proc


@pytest.fixture()
def client(service, worker):
    with BiologicalComputationClient(service.url, retries=1) as c:
        yield c


def _sync_fva(client, body: dict) -> dict:
    """The synchronous endpoint's answer to exactly ``body``."""
    return client.post("static", "/v1/fva", body)


def _fva_body(client, **extra) -> dict:
    reactions = client.request("static", "GET", "/v1/models/e_coli_core")["reaction_ids"]
    return {"model": {"id": "e_coli_core"}, "reactions": reactions, "fraction_of_optimum": 0.9,
            "bounds": GLUCOSE, **extra}


# -- the client ---------------------------------------------------------------------------------------
def test_an_fva_job_is_watched_to_the_end_and_gives_the_synchronous_answer(client):
    body = _fva_body(client)
    job = client.submit("fva", body, chunk_size=10)  # the service rounds FVA chunks up to its restart blocks
    assert isinstance(job, Job) and job.service == "static" and job.kind == "fva"
    total = job.info["progress"]["total"]
    assert job.info["status"] in ("queued", "running") and total >= 3  # 95 reactions
    seen: list[tuple[int, int]] = []
    final = job.wait(timeout=120, poll=0.05, progress=lambda done, total: seen.append((done, total)))
    assert final["status"] == "succeeded", final
    assert seen and seen[-1] == (total, total) and all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})  # monotone, each count reported once
    assert final["progress"] == {"done": total, "total": total} and final["created"] <= final["started"] <= final["finished"]
    answer = job.result()
    assert isinstance(answer, FvaResult) and list(answer.to_frame().index) == body["reactions"]
    assert answer == _sync_fva(client, body)  # every float, to the last bit
    chunked = client.fva("e_coli_core", body["reactions"], fraction_of_optimum=0.9,
                         bounds={"EX_glc__D_e": (-8.0, 1000.0)}, chunk_size=1000)
    assert answer == {k: v for k, v in chunked.items() if k != "chunks"}
    assert list(answer["ranges"]) == body["reactions"]


def test_keyword_fields_a_model_by_name_and_reattaching_from_another_client(client, service):
    job = client.submit("fba", model="e_coli_core", bounds=GLUCOSE)  # one chunk: the whole FBA
    job.wait(timeout=60, poll=0.05, progress=False)
    with BiologicalComputationClient(service.url, retries=1) as other:
        again = other.job(job.id, "static")
        assert again.status()["status"] == "succeeded" and again.kind == "fba"
        assert again.result() == job.result() == client.fba("e_coli_core", bounds={"EX_glc__D_e": (-8, 1000)})
        assert isinstance(again.result(), FbaResult)  # the typed result of its kind
        assert job.id in [j["id"] for j in other.jobs("static")]
    with pytest.raises(ClientRequestError) as unknown:
        client.job("no-such-job", "static")
    assert (unknown.value.status, unknown.value.code) == (404, "unknown_job")


def test_an_inline_model_goes_by_sha256_once_stored(client):
    sbml = {"sbml": MODELS["e_coli_core"].read_text()}
    first = client.submit("fba", model=sbml, bounds=GLUCOSE)
    second = client.submit("fba", model=sbml, bounds=GLUCOSE)  # by sha256: the store has the text
    for job in (first, second):
        assert job.wait(timeout=60, poll=0.05, progress=False)["status"] == "succeeded"
    assert first.result()["objective_value"] == second.result()["objective_value"] == pytest.approx(
        client.fba(sbml, bounds={"EX_glc__D_e": (-8, 1000)})["objective_value"], abs=1e-9)


def test_a_bad_request_gets_the_synchronous_endpoints_error_at_submission(client):
    with pytest.raises(ClientRequestError) as sync:
        client.fva("e_coli_core", ["NOT_A_REACTION"])
    with pytest.raises(ClientRequestError) as job:
        client.submit("fva", model="e_coli_core", reactions=["NOT_A_REACTION"])
    assert (job.value.status, job.value.code) == (sync.value.status, sync.value.code)
    with pytest.raises(ValueError, match="unknown job kind"):
        client.submit("pathway", model="e_coli_core")


def test_a_cancelled_job_stops_and_has_no_result(client):
    job = client.submit("fva", _fva_body(client, loopless=True), chunk_size=1)  # many slow chunks
    with pytest.raises(JobTimeout, match="goes on"):
        job.wait(timeout=0.3, poll=0.05, progress=False)
    with pytest.raises(ClientRequestError) as early:
        job.result()
    assert (early.value.status, early.value.code) == (409, "job_not_finished")
    cancelled = job.cancel()
    assert cancelled["status"] == "cancelled" and cancelled["finished"]
    assert job.wait(timeout=10, poll=0.05, progress=False)["status"] == "cancelled"
    assert cancelled["progress"]["done"] < cancelled["progress"]["total"]
    with pytest.raises(ServiceError) as late:
        job.result()
    assert late.value.status == 409


# -- the command line ---------------------------------------------------------------------------------
def _bioxen(service, *argv, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "bioxen"), "job", *argv, "--static-url", service.url], input=stdin,
                          capture_output=True, text=True, timeout=180, check=False)


def test_the_cli_submits_waits_and_fetches(client, service, tmp_path):
    body = _fva_body(client)
    request = tmp_path / "fva.json"
    request.write_text(json.dumps(body))
    done = _bioxen(service, "submit", "fva", "--request", str(request), "--chunk-size", "20", "--wait", "--json",
                   "--poll", "0.1")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["kind"] == "fva"
    assert job["progress"]["done"] == job["progress"]["total"] > 1

    status = _bioxen(service, "status", job["id"], "--service", "static", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["id"] == job["id"]
    result = _bioxen(service, "result", job["id"], "--service", "static", "--json")
    assert result.returncode == 0 and json.loads(result.stdout) == _sync_fva(client, body)
    table = _bioxen(service, "result", job["id"], "--service", "static")
    assert table.returncode == 0 and "reaction" in table.stdout and "PGI" in table.stdout
    listed = _bioxen(service, "list", "--service", "static", "--json")
    assert job["id"] in [j["id"] for j in json.loads(listed.stdout)["jobs"]]
    text = _bioxen(service, "list", "--service", "static")
    assert text.returncode == 0 and job["id"] in text.stdout and "succeeded" in text.stdout


def test_the_cli_reads_stdin_cancels_and_reports_errors(client, service):
    slow = json.dumps(_fva_body(client, loopless=True))
    queued = _bioxen(service, "submit", "fva", "--request", "-", "--chunk-size", "1", "--json", stdin=slow)
    assert queued.returncode == 0, queued.stderr
    job = json.loads(queued.stdout)
    cancelled = _bioxen(service, "cancel", job["id"], "--service", "static", "--json")
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "cancelled"
    wait_for(lambda: client.job(job["id"], "static").status()["status"] == "cancelled", 10, "stays cancelled")

    missing = _bioxen(service, "status", "no-such-job", "--service", "static")
    assert missing.returncode == 1 and "unknown_job" in missing.stderr
    bad = _bioxen(service, "submit", "fva", "--request", "-", stdin='{"model": "e_coli_core", "reactions": ["X"]}')
    assert bad.returncode == 1 and "error from the service" in bad.stderr
    not_json = _bioxen(service, "submit", "fva", "--request", "-", stdin="reactions: all")
    assert not_json.returncode == 2 and "not JSON" in not_json.stderr


def test_without_a_redis_url_jobs_answer_503_at_once():
    with ServiceProcess("static", preload="") as plain, BiologicalComputationClient(plain.url, retries=3) as client:
        with pytest.raises(ServiceError) as exc:
            client.submit("fba", model="e_coli_core")
        assert (exc.value.status, exc.value.code) == (503, "jobs_unavailable")
        assert "BIOXEN_REDIS_URL" in exc.value.message
        assert client.fba("e_coli_core")["status"] == "optimal"  # the replica stays in rotation


def test_whole_model_batches_of_an_inline_model_go_as_jobs(client):
    """The client cannot split an inline model's FVA or all-gene deletions (the ids are in its text):
    with a job store, the service splits them as a job; the answer is the synchronous one."""
    sbml = MODELS["e_coli_core"].read_text()
    before = {j["id"] for j in client.jobs("static")}
    seen = []
    fva = client.fva({"sbml": sbml}, fraction_of_optimum=0.9, progress=lambda done, total: seen.append((done, total)))
    assert fva["ranges"] == _sync_fva(client, {"model": {"sbml": sbml}, "fraction_of_optimum": 0.9})["ranges"]
    assert seen and seen[-1][0] == seen[-1][1]
    knockouts = client.knockouts({"sbml": sbml}, genes="all")
    assert len(knockouts["results"]) == 137  # every gene of e_coli_core, which only the service could list
    new = [j for j in client.jobs("static") if j["id"] not in before]
    assert sorted(j["kind"] for j in new) == ["fva", "knockouts"]
    assert all(j["status"] == "succeeded" for j in new)
