"""A single long call inside libRoadRunner cannot be interrupted from Python, so simulations forecast to
be long run in a forked copy of the worker (``timeouts.run_isolated``) that the budget can stop: the
request answers 504 and the same worker stays in service."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
import requests

from bioxen_services import timeouts
from bioxen_services.errors import ComputationFailed, ComputationTimeout
from reliability_helpers import children, simulate_final
from support import ServiceProcess, metric_value

BUDGET_SECONDS = 2
#: a fast harmonic oscillator (period 2*pi/1000) over 20,000 time units: CVODE needs ~10^4 steps per
#: unit, about 2*10^8 steps in one call, a minute or more on this machine (one output interval per unit
#: keeps each interval under CVODE's 20,000-step limit)
OSCILLATOR = "model fast_oscillator\n  x' = w*y\n  y' = -w*x\n  x = 1; y = 0; w = 1000\nend\n"
HUGE = {"model": {"antimony": OSCILLATOR}, "end": 20_000, "points": 20_001, "selections": ["x"]}


@pytest.fixture(scope="module")
def budget_dynamic():
    env = {"BIOXEN_REQUEST_TIMEOUT_SECONDS": str(BUDGET_SECONDS)}
    with ServiceProcess("dynamic", host="127.0.0.23", workers=1, env=env, preload="gene_expression") as proc:
        yield proc


def _isolated(url: str) -> float:
    return metric_value(requests.get(url + "/metrics", timeout=10).text, "bioxen_isolated_computations_total")


def test_a_huge_simulation_answers_504_and_the_worker_stays(budget_dynamic):
    url = budget_dynamic.url
    workers = children(budget_dynamic.proc.pid)
    expected = simulate_final(url)
    before = _isolated(url)
    # the read timeout bounds the test: without isolation the answer would come only after the whole
    # simulation (or never, once gunicorn kills the worker at budget + 30 s)
    resp = requests.post(url + "/v1/simulate", json=HUGE, timeout=BUDGET_SECONDS + 20)
    assert resp.status_code == 504, resp.text
    assert resp.json()["error"]["code"] == "timeout"
    assert "time budget" in resp.json()["error"]["message"]
    assert _isolated(url) == before + 1
    assert children(budget_dynamic.proc.pid) == workers  # the same worker, and no copy left behind
    assert simulate_final(url) == pytest.approx(expected, rel=1e-12)


def test_short_simulations_run_in_place(budget_dynamic):
    url = budget_dynamic.url
    before = _isolated(url)
    for _ in range(3):
        simulate_final(url)
    assert _isolated(url) == before


def test_run_isolated_returns_what_the_copy_computed():
    data = np.arange(12.0).reshape(3, 4)
    with timeouts.time_budget(10, "test"):
        out = timeouts.run_isolated(lambda: data * 2, "doubling")
    assert np.array_equal(out, data * 2)


def test_run_isolated_reports_the_copys_failure():
    def fail():
        raise RuntimeError("CVODE error: CV_TOO_MUCH_WORK")

    with pytest.raises(ComputationFailed, match="CV_TOO_MUCH_WORK"):
        timeouts.run_isolated(fail, "this simulation")


def test_run_isolated_stops_the_copy_at_the_budget():
    started = time.monotonic()
    with pytest.raises(ComputationTimeout):
        with timeouts.time_budget(0.5, "this simulation"):
            timeouts.run_isolated(lambda: time.sleep(30), "this simulation")
    assert time.monotonic() - started < 25  # bounded, not a speed target: the copy did not run to its end


def test_compiling_a_huge_inline_model_is_bounded_by_the_budget():
    """Parsing genome-scale SBML inline takes over a second here; with a 0.3 s budget the request answers
    504 and the same worker then serves a shipped model correctly (nothing half-cached either)."""
    from support import MODELS

    env = {"BIOXEN_REQUEST_TIMEOUT_SECONDS": "0.3"}
    with ServiceProcess("static", host="127.0.0.23", workers=1, env=env, preload="e_coli_core") as proc:
        workers = children(proc.proc.pid)
        text = MODELS["iMM904"].read_text()
        resp = requests.post(proc.url + "/v1/fba", json={"model": {"sbml": text}}, timeout=60)
        assert resp.status_code == 504, resp.text[:300]
        assert "compiling this model" in resp.json()["error"]["message"]
        sha = hashlib.sha256(text.encode()).hexdigest()
        lookup = requests.post(proc.url + "/v1/fba", json={"model": {"sha256": sha}}, timeout=60)
        assert lookup.json()["error"]["code"] == "model_not_cached"
        again = requests.post(proc.url + "/v1/fba", json={"model": {"id": "e_coli_core"}}, timeout=60)
        assert again.json()["objective_value"] == pytest.approx(0.873922, abs=1e-6)
        assert children(proc.proc.pid) == workers
