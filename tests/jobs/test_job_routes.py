"""The job routes over HTTP: real services (``bioxen serve``) with a real redis-server and real workers
(``bioxen worker``). A submission takes exactly the synchronous body and is refused with its 4xx; the
status moves to succeeded with its progress; the result equals the synchronous answer; cancel, unknown
ids, results before the end, and a service without Redis answer as documented."""

from __future__ import annotations

import jsonschema
import pytest
import requests
from jobs_support import WorkerProcess
from support import ServiceProcess, wait_for


def _schema(doc: dict, schema: dict) -> dict:
    """A response schema made resolvable against the document's components (OpenAPI 3.1 is JSON Schema
    2020-12 once the references point into the same object)."""
    return {**schema, "components": doc["components"]}


def _check(doc: dict, path: str, method: str, resp: requests.Response) -> None:
    entry = doc["paths"][path][method]["responses"][str(resp.status_code)]
    jsonschema.validate(resp.json(), _schema(doc, entry["content"]["application/json"]["schema"]))


@pytest.fixture(scope="module")
def served(redis_server):
    """Each service's front with the job layer, and one worker each."""
    env = {"BIOXEN_REDIS_URL": redis_server.url}
    with ServiceProcess("static", env=env, preload="e_coli_core") as static, \
            ServiceProcess("dynamic", env=env, preload="gene_expression") as dynamic, \
            WorkerProcess("static", redis_server.url, preload="e_coli_core"), \
            WorkerProcess("dynamic", redis_server.url, preload="gene_expression"):
        yield {"static": static.url, "dynamic": dynamic.url}


def _finished(url: str, location: str, timeout: float = 180) -> dict:
    return wait_for(lambda: (lambda job: job if job["status"] not in ("queued", "running") else None)(
        requests.get(url + location, timeout=30).json()), timeout, f"job {location} ends", poll=0.2)


def test_an_fva_job_answers_what_the_synchronous_endpoint_answers(served):
    url = served["static"]
    doc = requests.get(url + "/openapi.json", timeout=30).json()
    request = {"model": {"id": "e_coli_core"}, "fraction_of_optimum": 0.9}
    resp = requests.post(url + "/v1/jobs", json={"kind": "fva", "request": request, "chunk_size": 32}, timeout=60)
    assert resp.status_code == 202, resp.text
    _check(doc, "/v1/jobs", "post", resp)
    job = resp.json()
    assert resp.headers["Location"] == f"/v1/jobs/{job['id']}" and job["kind"] == "fva"
    assert job["progress"] == {"done": 0, "total": 3}  # 95 reactions of e_coli_core in chunks of 32
    done = _finished(url, resp.headers["Location"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"done": 3, "total": 3}
    result = requests.get(url + resp.headers["Location"] + "/result", timeout=30)
    assert result.status_code == 200
    _check(doc, "/v1/jobs/{job_id}/result", "get", result)
    direct = requests.post(url + "/v1/fva", json=request, timeout=120).json()
    assert result.json() == direct  # identical numbers, chunked or not
    listed = requests.get(url + "/v1/jobs", timeout=30)
    _check(doc, "/v1/jobs", "get", listed)
    assert job["id"] in [j["id"] for j in listed.json()["jobs"]]


def test_an_ensemble_job_answers_what_the_synchronous_ensemble_answers(served):
    url = served["dynamic"]
    request = {"model": {"id": "gene_expression"}, "integrator": "gillespie", "end": 10, "points": 11,
               "repetitions": 40, "seed": 7}
    resp = requests.post(url + "/v1/jobs", json={"kind": "ensemble", "request": request, "chunk_size": 15},
                         timeout=60)
    assert resp.status_code == 202, resp.text
    assert _finished(url, resp.headers["Location"])["status"] == "succeeded"
    result = requests.get(url + resp.headers["Location"] + "/result", timeout=30).json()
    direct = requests.post(url + "/v1/simulate", json=request, timeout=120).json()
    assert result["mean"] == direct["mean"] and result["sd"] == direct["sd"]


@pytest.mark.parametrize("body, status, code, words", [
    ({"kind": "fva", "request": {"model": {"id": "e_coli_core"}, "bounds": {"PGI": [3, 1]}}}, 400,
     "invalid_request", "request.bounds['PGI']: lower bound 3 is above upper bound 1"),
    ({"kind": "fva", "request": {"model": {"id": "e_coli_core"}, "reactions": ["NOPE"]}}, 400,
     "unknown_reaction", "NOPE"),
    ({"kind": "fva", "request": {"model": {"id": "no_such_model"}}}, 404, "unknown_model", "no_such_model"),
    ({"kind": "moma", "request": {}}, 400, "invalid_request", "kind must be one of ['dfba', 'fba', 'fva', 'knockouts', 'omex']"),
    ({"kind": "fba"}, 400, "invalid_request", "missing required field 'request'"),
])
def test_a_bad_submission_gets_the_synchronous_4xx(served, body, status, code, words):
    resp = requests.post(served["static"] + "/v1/jobs", json=body, timeout=60)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code and words in resp.json()["error"]["message"], resp.text


def test_cancel_unknown_and_unfinished(served):
    url = served["static"]
    resp = requests.post(url + "/v1/jobs", json={"kind": "knockouts", "chunk_size": 1, "request": {
        "model": {"id": "e_coli_core"}, "genes": "all"}}, timeout=60)
    assert resp.status_code == 202, resp.text
    location = resp.headers["Location"]
    cancelled = requests.delete(url + location, timeout=30)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    early = requests.get(url + location + "/result", timeout=30)
    assert early.status_code == 409 and early.json()["error"]["code"] == "job_not_finished"
    assert "cancelled" in early.json()["error"]["message"]
    unknown = requests.get(url + "/v1/jobs/no-such-job", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_job"


def test_without_redis_the_job_routes_say_what_is_missing():
    with ServiceProcess("static", env={"BIOXEN_REDIS_URL": ""}) as plain:
        resp = requests.post(plain.url + "/v1/jobs", json={"kind": "fba", "request": {"model": "e_coli_core"}},
                             timeout=60)
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "jobs_unavailable", resp.text
        assert "BIOXEN_REDIS_URL" in resp.json()["error"]["message"]
        # the synchronous endpoints do not need it
        assert requests.post(plain.url + "/v1/fba", json={"model": "e_coli_core"}, timeout=60).status_code == 200
