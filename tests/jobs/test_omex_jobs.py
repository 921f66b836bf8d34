"""An archive as a job (kind ``omex``, issue 16): a real dynamic service and worker with a real redis-server.
The archive travels base64-encoded in the job's request (``{"kind": "omex", "request": {"archive": ...}}``,
the JSON form of POST /v1/omex); a hostile one is refused at submission with the synchronous path's 4xx;
the result is the synchronous answer; the client submits one and reads its reports."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
import requests
from jobs_support import WorkerProcess
from support import ServiceProcess, wait_for

sys.path.insert(0, str(Path(__file__).parents[1] / "omex"))
from omex_support import REPRESSILATOR, comparable, example, published, with_entry  # noqa: E402


@pytest.fixture(scope="module")
def served(redis_server):
    env = {"BIOXEN_REDIS_URL": redis_server.url}
    with ServiceProcess("dynamic", env=env, preload="gene_expression") as dynamic, \
            WorkerProcess("dynamic", redis_server.url, preload="gene_expression"):
        yield dynamic.url


def _job(url: str, archive: bytes) -> requests.Response:
    body = {"kind": "omex", "request": {"archive": base64.b64encode(archive).decode()}}
    return requests.post(url + "/v1/jobs", json=body, timeout=60)


def test_an_omex_job_answers_what_the_synchronous_endpoint_answers(served):
    data = published(REPRESSILATOR)
    resp = _job(served, data)
    assert resp.status_code == 202, resp.text
    assert resp.json()["kind"] == "omex" and resp.json()["progress"] == {"done": 0, "total": 1}
    location = resp.headers["Location"]
    done = wait_for(lambda: (lambda j: j if j["status"] not in ("queued", "running") else None)(
        requests.get(served + location, timeout=30).json()), 180, "the omex job ends", poll=0.2)
    assert done["status"] == "succeeded", done
    result = requests.get(served + location + "/result", timeout=30).json()
    direct = requests.post(served + "/v1/omex", data=data, headers={"Content-Type": "application/zip"},
                           timeout=120)
    assert direct.status_code == 200, direct.text[:500]
    assert comparable(result) == comparable(direct.json())


def test_a_hostile_archive_is_refused_at_submission(served):
    resp = _job(served, with_entry(example("dynamic"), "../evil.txt", "x"))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsafe_archive_entry"
    resp = requests.post(served + "/v1/jobs", json={"kind": "omex", "request": {"archive": "%%"}}, timeout=30)
    assert resp.status_code == 400 and resp.json()["error"]["message"].startswith("request.archive")


def test_the_client_submits_an_archive_and_reads_its_reports(served, tmp_path):
    from bioxen_vm import BiologicalComputationClient
    from bioxen_vm.omex import OmexResult

    path = tmp_path / "example.omex"
    path.write_bytes(example("dynamic"))
    with BiologicalComputationClient("http://127.0.0.1:9", served) as client:
        job = client.submit_omex(path)
        assert job.service == "dynamic"
        job.wait(timeout=120, progress=False)
        result = OmexResult(job.service, job.result())
        direct = client.run_omex(path, files=False)
    assert comparable(result.answer) == comparable(direct.answer)
    assert list(result.reports) == list(direct.answer["reports"])
