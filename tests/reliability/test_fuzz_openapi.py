"""Schema-driven fuzzing (issue 6): schemathesis generates valid and invalid requests from each service's
own /openapi.json and sends them to the real service. Checks: no 5xx, every status code and
body conforms to the document, and requests that break the schema are refused with a 4xx.

Bounded: a fixed number of examples per operation (BIOXEN_FUZZ_EXAMPLES, default 20) and a fixed seed
(BIOXEN_FUZZ_SEED) so a failure reproduces. The "coverage" phase is left out: with free-form objects
(the phase-1 bodies accept extra fields) it dies inside hypothesis on Python 3.11 (``SystemError: AST
constructor recursion depth mismatch`` while describing a strategy), an error of the tool, not of the
service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import engine_pids

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,negative_data_rejection")
EXAMPLES = os.environ.get("BIOXEN_FUZZ_EXAMPLES", "20")
SEED = os.environ.get("BIOXEN_FUZZ_SEED", "20261125")


def fuzz(url: str, workdir: Path) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json",
           "--checks", CHECKS, "--phases", "examples,fuzzing", "--max-examples", EXAMPLES, "--seed", SEED,
           "--workers", "2", "--request-timeout", "60", "--suppress-health-check", "all",
           "--output-truncate", "true"]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def job_store():
    """A redis-server of the test's own, so the job operations run their real paths (no worker: jobs
    stay queued; ids the fuzzer makes up are 404s) instead of answering 503 jobs_unavailable."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "jobs"))
    from jobs_support import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_fuzz_against_openapi(service, job_store, tmp_path):
    from reliability_helpers import LIMITS
    from support import ServiceProcess

    preload = "e_coli_core" if service == "static" else "gene_expression"
    with ServiceProcess(service, host="127.0.0.21", workers=2, preload=preload,
                        env={**LIMITS, "BIOXEN_REDIS_URL": job_store.url}) as proc:
        _fuzz_one(proc, tmp_path)


def _fuzz_one(proc, tmp_path):
    workers = engine_pids(proc.proc.pid)
    run = fuzz(proc.url, tmp_path)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert "passed" in run.stdout and " failed" not in run.stdout, run.stdout[-4000:]
    assert engine_pids(proc.proc.pid) == workers, "a worker was replaced during the fuzz run"
    assert "Traceback" not in proc.log(), proc.log()
