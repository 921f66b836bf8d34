"""Runaway work (issue 6, runtime of issue 10): a request past the time budget answers 504 ``timeout`` with
the reason; its engine process is killed and replaced from the template, so the next request (one engine
per service here) is answered correctly by a process that never saw the interrupted one.
The inline-model caches are bounded by count and by measured bytes and evict the least recently used.

The budget is 1 s; the runaway requests need tens of seconds (FVA of iMM904 over all its reactions,
knockouts of all its genes, a 10,000-point scan), so the outcome does not depend on the machine's speed.
"""

from __future__ import annotations

import re

import pytest
import requests

from reliability_helpers import fba_growth, gene_expression_rr, simulate_final
from support import BYTECODE, MODELS, ServiceProcess

BUDGET = {"BIOXEN_REQUEST_TIMEOUT_SECONDS": "1"}


@pytest.fixture(scope="module")
def static_budget():
    with ServiceProcess("static", host="127.0.0.22", workers=1, env=BUDGET, preload="e_coli_core,iMM904") as proc:
        yield proc


@pytest.fixture(scope="module")
def dynamic_budget():
    with ServiceProcess("dynamic", host="127.0.0.22", workers=1, env=BUDGET,
                        preload="gene_expression,teusink_glycolysis") as proc:
        yield proc


def _assert_timeout(resp: requests.Response, kind: str) -> None:
    assert resp.status_code == 504, resp.text[:500]
    error = resp.json()["error"]
    assert error["code"] == "timeout"
    assert f"this {kind} computation did not finish within the service's time budget of 1 s" in error["message"]


RUNAWAY_STATIC = [
    ("fva", "/v1/fva", {"model": {"id": "iMM904"}, "bounds": {"EX_glc__D_e": [-1, 1000]}}),
    ("knockouts", "/v1/knockouts", {"model": {"id": "iMM904"}, "genes": "all", "bounds": {"EX_glc__D_e": [-1, 1000]}}),
]


@pytest.mark.slow
@pytest.mark.parametrize("kind,path,body", RUNAWAY_STATIC, ids=[r[0] for r in RUNAWAY_STATIC])
def test_static_runaway_times_out_and_worker_recovers(kind, path, body, static_budget, imm904_growth,
                                                      ecoli_growth):
    _assert_timeout(requests.post(static_budget.url + path, json=body, timeout=120), kind)
    # the changed glucose bound of the interrupted request is gone again: default growth, to 1e-9
    assert fba_growth(static_budget.url, "iMM904") == pytest.approx(imm904_growth, rel=1e-9)
    assert round(imm904_growth, 6) == 0.287866
    assert fba_growth(static_budget.url) == pytest.approx(ecoli_growth, rel=1e-9)


@pytest.mark.slow
def test_scan_at_the_limit_times_out_and_worker_recovers(dynamic_budget, gene_expression_final):
    grid = {"gR": [1 + 0.01 * i for i in range(100)], "KmPFKF6P": [0.1 + 0.01 * i for i in range(100)]}
    resp = requests.post(dynamic_budget.url + "/v1/scan", timeout=120, json={
        "model": {"id": "teusink_glycolysis"}, "grid": grid, "end": 100, "points": 1000})  # 10,000 points: the default limit
    _assert_timeout(resp, "scan")
    assert simulate_final(dynamic_budget.url) == pytest.approx(gene_expression_final, rel=1e-9)


def test_scan_model_reset_after_timeout(dynamic_budget):
    """The scanned program answers a plain simulation exactly as in-process libRoadRunner does after an
    interrupted scan left parameters changed in its cached instance."""
    import roadrunner

    rr = roadrunner.RoadRunner(str(BYTECODE / "kinetic" / "BIOMD0000000064.xml"))
    expected = rr.simulate(0, 10, 11)
    names = [n.strip("[]") for n in expected.colnames[1:]]
    requests.post(dynamic_budget.url + "/v1/scan", timeout=120, json={
        "model": {"id": "teusink_glycolysis"}, "grid": {"gR": [1 + 0.001 * i for i in range(10_000)]},
        "end": 100, "points": 1000})
    resp = requests.post(dynamic_budget.url + "/v1/simulate", timeout=60, json={
        "model": {"id": "teusink_glycolysis"}, "end": 10, "points": 11, "selections": names})
    assert resp.status_code == 200, resp.text
    got = resp.json()["trajectories"]
    for i, name in enumerate(names):
        assert got[name] == pytest.approx(list(expected[:, i + 1]), rel=1e-6, abs=1e-9), name


# -- bounded, least-recently-used caches -----------------------------------------------------------
def _program(k: int) -> str:
    """A distinct Antimony program per ``k`` (so a distinct sha256)."""
    return f"model decay_{k}\n  J: S -> ; k*S\n  S = 10\n  k = {k}\nend\n"


def _ecoli_variant(k: int) -> str:
    return MODELS["e_coli_core"].read_text().replace('id="e_coli_core"', f'id="e_coli_core_{k}"', 1)


VARIANTS = {
    "dynamic": ("/v1/simulate", "antimony", _program, {"end": 1, "points": 2}),
    "static": ("/v1/fba", "sbml", _ecoli_variant, {"fluxes": []}),
}


def _evictions(url: str, service: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    match = re.search(rf'^bioxen_model_cache_evictions_total{{service="{service}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("bound", ["count", "bytes"])
@pytest.mark.parametrize("service", ["dynamic", "static"])
def test_inline_cache_evicts_least_recently_used(service, bound):
    path, kind, make, extra = VARIANTS[service]
    texts = [make(k) for k in (1, 2, 3)]
    # room for two models by count; by bytes, each model is counted by the memory its compile added
    # (at least its text), so a bound of one byte keeps only the newest
    env = {"BIOXEN_MODEL_CACHE_SIZE": "2"} if bound == "count" else {"BIOXEN_MODEL_CACHE_BYTES": "1"}
    preload = "e_coli_core" if service == "static" else "gene_expression"
    with ServiceProcess(service, host="127.0.0.22", workers=1, env=env, preload=preload) as proc:
        def send(model: dict) -> requests.Response:
            return requests.post(proc.url + path, json={"model": model, **extra}, timeout=60)

        shas = []
        kept = 2 if bound == "count" else 1
        for text in texts[:2]:
            resp = send({kind: text})
            assert resp.status_code == 200, resp.text
            shas.append(resp.json()["model"]["sha256"])
        if kept == 2:
            assert send({"sha256": shas[0]}).status_code == 200  # the first is now the most recently used
        before = _evictions(proc.url, service)
        resp = send({kind: texts[2]})
        assert resp.status_code == 200, resp.text
        shas.append(resp.json()["model"]["sha256"])

        gone = [shas[1]] if kept == 2 else [shas[0], shas[1]]
        for sha in gone:
            evicted = send({"sha256": sha})
            assert evicted.status_code == 404
            assert evicted.json()["error"]["code"] == "model_not_cached"
        for sha in (shas[0], shas[2]) if kept == 2 else (shas[2],):
            assert send({"sha256": sha}).status_code == 200
        assert _evictions(proc.url, service) == before + 1


def test_request_changes_do_not_leak_into_model_detail(dynamic_budget):
    """A simulation with changed parameters leaves the cached program as shipped: the detail shows the
    program's own values (one worker, so the detail comes from the very instance that simulated)."""
    rr = gene_expression_rr()
    expected = {p: rr[p] for p in rr.model.getGlobalParameterIds()}
    resp = requests.post(dynamic_budget.url + "/v1/simulate", timeout=60, json={
        "model": {"id": "gene_expression"}, "parameters": {"k_transcription": 0.4}})
    assert resp.status_code == 200, resp.text
    detail = requests.get(dynamic_budget.url + "/v1/models/gene_expression", timeout=60).json()
    assert detail["parameters"] == pytest.approx(expected, rel=1e-12)
