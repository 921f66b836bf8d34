"""Helpers of the reliability tests: the valid reference requests, and an HTTP listener that records whether anything ever
fetched from it."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import requests

#: small limits of the services under test, so the limits are cheap to reach
LIMITS = {
    "BIOXEN_MAX_BODY_BYTES": "2000000",  # e_coli_core's SBML (0.7 MB) still fits
    "BIOXEN_MAX_TIME_POINTS": "1000",
    "BIOXEN_MAX_SCAN_POINTS": "50",
    "BIOXEN_MAX_KNOCKOUTS": "20",
}

#: the valid request run after every bad one, with the reference values of DESIGN.md
VALID_SIMULATE = ("/v1/simulate", {"model": {"id": "gene_expression"}, "start": 0, "end": 10, "points": 100,
                                   "selections": ["mRNA", "protein"]})


def gene_expression_rr():
    """A RoadRunner of the shipped gene-expression program, compiled in this process via libAntimony."""
    import antimony
    import roadrunner

    from support import BYTECODE

    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString((BYTECODE / "kinetic" / "gene_expression.ant").read_text()) >= 0
    return roadrunner.RoadRunner(antimony.getSBMLString(antimony.getMainModuleName()))


def fba_growth(url: str, model_id: str = "e_coli_core", timeout: float = 60) -> float:
    resp = requests.post(f"{url}/v1/fba", json={"model": {"id": model_id}, "fluxes": []}, timeout=timeout)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "optimal", body
    return body["objective_value"]


def simulate_final(url: str, timeout: float = 60) -> dict[str, float]:
    path, body = VALID_SIMULATE
    resp = requests.post(url + path, json=body, timeout=timeout)
    assert resp.status_code == 200, resp.text
    return {name: values[-1] for name, values in resp.json()["trajectories"].items()}


class RecordingHTTPServer:
    """A loopback HTTP server that answers 404 and records every path asked for: an XML external
    entity or an SBML external model pointing here must never be fetched."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "RecordingHTTPServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
