"""Eight concurrent clients against both services (a front and two engine processes each): every
answer is the right one for its own request, and no engine process dies (the phase-1 prototype segfaulted
under four)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support import engine_pids, glucose_growth, reference_roadrunner

CLIENTS = 8
REQUESTS_PER_CLIENT = 25


@pytest.mark.slow
def test_eight_concurrent_clients(static_service, dynamic_service):
    glucose = [-1.0, -2.5, -5.0, -7.5, -10.0]
    expected_growth = glucose_growth(glucose)
    rates = [0.05, 0.1, 0.2, 0.3]
    expected_mrna = {}
    rr = reference_roadrunner("gene_expression")
    for k in rates:
        rr.resetAll()
        rr["k_transcription"] = k
        expected_mrna[k] = rr.simulate(0, 10, 100)[-1, 1]
    pids_before = (engine_pids(static_service.proc.pid), engine_pids(dynamic_service.proc.pid))

    def client(seed: int) -> list[str]:
        rng = random.Random(seed)
        problems = []
        with requests.Session() as session:
            for _ in range(REQUESTS_PER_CLIENT):
                if rng.random() < 0.5:
                    g = rng.choice(glucose)
                    r = session.post(static_service.url + "/v1/fba", timeout=60, json={
                        "model": {"id": "e_coli_core"}, "bounds": {"EX_glc__D_e": [g, 1000]}})
                    got = r.json().get("objective_value") if r.ok else r.text
                    if not r.ok or abs(got - expected_growth[g]) > 1e-9:
                        problems.append(f"fba glc={g}: {got} != {expected_growth[g]}")
                else:
                    k = rng.choice(rates)
                    r = session.post(dynamic_service.url + "/v1/simulate", timeout=60, json={
                        "model": {"id": "gene_expression"}, "parameters": {"k_transcription": k}})
                    got = r.json()["trajectories"]["mRNA"][-1] if r.ok else r.text
                    if not r.ok or abs(got - expected_mrna[k]) > 1e-9:
                        problems.append(f"simulate k={k}: {got} != {expected_mrna[k]}")
        return problems

    with ThreadPoolExecutor(CLIENTS) as pool:
        problems = [p for result in pool.map(client, range(CLIENTS)) for p in result]
    assert problems == []
    assert (engine_pids(static_service.proc.pid), engine_pids(dynamic_service.proc.pid)) == pids_before
    for proc in (static_service, dynamic_service):
        assert requests.get(proc.url + "/readyz", timeout=10).status_code == 200
