"""SIGTERM draining (issue 6), on a real replica with 2 engine processes and BIOXEN_DRAIN_SECONDS=2:

1. a long request (FVA of iMM904 over all its reactions, ~15 s) is in flight on one engine;
2. SIGTERM to the front: /readyz, answered by the front itself, turns 503 with ``draining`` at once,
   and never back to 200;
3. after the drain period the replica refuses new connections (the listening socket is shut down)
   while the long request is still running;
4. the long request completes with 200 and the values in-process cobra computes;
5. the front exits 0 within the request deadline + 5 s, having stopped its engines and their template.
"""

from __future__ import annotations

import re
import signal
import threading
import time

import pytest
import requests

from support import MODELS, ServiceProcess

DRAIN_SECONDS = 2


def _in_flight(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    match = re.search(r'^bioxen_http_requests_in_flight{service="static"} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture(scope="module")
def imm904_fva_sample():
    """In-process FVA of the first 20 reactions of iMM904 (GLPK)."""
    import cobra
    from cobra.flux_analysis import flux_variability_analysis

    model = cobra.io.read_sbml_model(str(MODELS["iMM904"]))
    model.solver = "glpk"
    frame = flux_variability_analysis(model, reaction_list=model.reactions[:20], processes=1)
    return {rid: (row.minimum, row.maximum) for rid, row in frame.iterrows()}


@pytest.mark.slow
def test_sigterm_drains_then_finishes_work_in_flight(imm904_fva_sample):
    proc = ServiceProcess("static", host="127.0.0.23", workers=2, preload="e_coli_core,iMM904",
                          env={"BIOXEN_DRAIN_SECONDS": str(DRAIN_SECONDS)}).start()
    try:
        answer: dict = {}

        def long_request():
            resp = requests.post(proc.url + "/v1/fva", json={"model": {"id": "iMM904"}}, timeout=300)
            answer["status"], answer["body"] = resp.status_code, resp.json()

        worker = threading.Thread(target=long_request)
        worker.start()
        deadline = time.monotonic() + 60
        while _in_flight(proc.url) < 2:  # the FVA plus this /metrics request
            assert worker.is_alive() and time.monotonic() < deadline, "the long request never started"
            time.sleep(0.05)

        import psutil

        engines = psutil.Process(proc.proc.pid).children(recursive=True)
        assert len(engines) == 3  # the template and 2 engines
        proc.proc.send_signal(signal.SIGTERM)
        readiness = []
        while True:
            try:
                resp = requests.get(proc.url + "/readyz", timeout=5)
            except requests.ConnectionError:
                refused_while_busy = worker.is_alive()
                break
            readiness.append((resp.status_code, resp.json().get("draining", False)))
            assert time.monotonic() < deadline, "the replica kept accepting connections"
            time.sleep(0.1)

        first_503 = readiness.index((503, True))  # ValueError if readiness never turned false
        assert all(r == (503, True) for r in readiness[first_503:]), readiness
        assert refused_while_busy, "the long request ended before new connections were refused"

        worker.join(300)
        assert answer["status"] == 200, answer
        ranges = answer["body"]["ranges"]
        assert len(ranges) == 1577
        for rid, (low, high) in imm904_fva_sample.items():
            assert ranges[rid]["minimum"] == pytest.approx(low, abs=1e-6), rid
            assert ranges[rid]["maximum"] == pytest.approx(high, abs=1e-6), rid
        assert proc.proc.wait(timeout=60 + 5 + 10) == 0  # the deadline + 5 s, and slack
        assert not any(p.is_running() and p.status() != "zombie" for p in engines), "engines outlived the front"
    finally:
        proc.stop()
