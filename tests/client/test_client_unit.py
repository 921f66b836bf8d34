"""Pure unit tests of the client through its injectable transport (no network): retry and failover
rules, typed errors, gzip, the sha256-first model protocol, and grid splitting."""

from __future__ import annotations

import itertools
import json

import pytest

from bioxen_vm import (BiologicalComputationClient, ClientRequestError, ComputationLost, ComputationTimeout,
                       MockTransport, ServerError, ServiceTimeout, ServiceUnavailable, Timeout)
from bioxen_vm.client import GZIP_THRESHOLD_BYTES, sha256_text, split_grid
from bioxen_vm.transport import TransportError, decode_body, json_response

A, B = "http://10.0.0.1:8000", "http://10.0.0.2:8000"
OK = {"status": "optimal", "objective_value": 1.0, "fluxes": {}, "model": {"id": "m", "sha256": "0" * 64}}


def envelope(status, code, message):
    return json_response(status, {"error": {"code": code, "message": message, "request_id": "r1"}})


def client_with(handler, urls=(A, B), **kwargs) -> BiologicalComputationClient:
    kwargs.setdefault("backoff", 0.001)
    return BiologicalComputationClient(list(urls), list(urls), transport=MockTransport(handler), environ={},
                                       **kwargs)


def test_connection_error_is_retried_on_another_endpoint():
    def handler(method, url, body, headers):
        if url.startswith(A):
            raise TransportError("connect", "connection refused")
        return json_response(200, OK)

    with client_with(handler) as client:
        for _ in range(4):
            assert client.fba("m")["objective_value"] == 1.0
        assert client.pools["static"].dead() == [A]


def test_503_is_retried_elsewhere_and_exhaustion_raises_service_unavailable():
    calls = []

    def handler(method, url, body, headers):
        calls.append(url)
        return envelope(503, "not_ready", "still loading")

    with client_with(handler, retries=2) as client:
        with pytest.raises(ServiceUnavailable, match="still loading"):
            client.fba("m")
        assert len(calls) == 3 and {c.rsplit("/v1", 1)[0] for c in calls[:2]} == {A, B}
        assert client.request_static_computation({})["status"] == "service_unavailable"


@pytest.mark.parametrize("status, code, kind", [(400, "unknown_reaction", ClientRequestError),
                                                (422, "limit_exceeded", ClientRequestError),
                                                (504, "timeout", ServerError)])
def test_error_answers_raise_typed_errors_without_retry(status, code, kind):
    calls = []

    def handler(method, url, body, headers):
        calls.append(url)
        return envelope(status, code, f"message for {code}")

    with client_with(handler) as client:
        with pytest.raises(kind) as info:
            client.fba("m")
    assert (info.value.status, info.value.code, info.value.message) == (status, code, f"message for {code}")
    assert info.value.request_id == "r1"
    assert len(calls) == 1
    if status == 504:  # the computation ran past the service's budget: the same request would too
        assert isinstance(info.value, ComputationTimeout)
        assert str(info.value) == ("504 timeout: message for timeout (not retried: split it into smaller requests "
                                   "(fewer reactions, points or grid values per call), or submit it as a job "
                                   "(client.submit, with the jobs API) instead of waiting on one request)")


@pytest.mark.parametrize("kind, error, reason", [
    ("timeout", ServiceTimeout, "no answer within 1 s"),
    ("lost", ComputationLost, "the connection dropped after the request was sent (connection reset)"),
])
def test_a_request_the_service_had_and_lost_is_not_retried(kind, error, reason):
    calls, probes = [], []

    def handler(method, url, body, headers):
        (probes if url.endswith("/healthz") else calls).append(url)
        raise TransportError(kind, reason)  # the replica keeps accepting and dropping: alive, not gone

    with client_with(handler) as client:
        with pytest.raises(error) as info:
            client.simulate("p")
        assert client.request_dynamic_computation({})["status"] == "service_unavailable"  # phase 1 never raises
    assert len(calls) == 2  # one per call, none retried
    # a lost connection is followed by probes of that replica (is it gone altogether?); a timeout is not
    assert len(probes) == (6 if kind == "lost" else 0)
    assert str(info.value).startswith(f"dynamic service lost the computation: POST {calls[0]}: {reason}. "
                                      "It was not retried")


def test_phase1_methods_never_raise():
    with client_with(lambda *a: envelope(400, "invalid_request", "bad")) as client:
        assert client.request_dynamic_computation({}) == {
            "status": "error", "error": "bad", "error_code": "invalid_request", "http_status": 400}


@pytest.mark.parametrize("value", [0, -1, float("inf"), (1.0, float("inf"))])
def test_timeouts_must_be_finite_and_positive(value):
    with pytest.raises(ValueError):
        Timeout.of(value)


def test_large_bodies_are_gzipped_and_small_ones_are_not():
    seen = []

    def handler(method, url, body, headers):
        seen.append((headers.get("Content-Encoding"), decode_body(body, headers)))
        return json_response(200, {**OK, "ranges": {}})

    big = [f"R{i:06d}" for i in range(GZIP_THRESHOLD_BYTES // 8)]
    with client_with(handler) as client:
        client.fba("m")
        client.fba("m", fluxes=big)
    assert seen[0][0] is None
    assert seen[1][0] == "gzip" and seen[1][1]["fluxes"] == big


def test_inline_models_go_by_sha256_first_and_as_text_on_a_cache_miss():
    text = "model m\n  S -> ; k*S\n  S = 1; k = 1\nend\n"
    cached: set[str] = set()
    sent = []

    def handler(method, url, body, headers):
        model = json.loads(body)["model"]
        sent.append(model)
        if "sha256" in model:
            if model["sha256"] in cached:
                return json_response(200, {"time": [0, 1], "trajectories": {}})
            return envelope(404, "model_not_cached", "send the model text inline")
        cached.add(sha256_text(model["antimony"]))
        return json_response(200, {"time": [0, 1], "trajectories": {}})

    with client_with(handler, urls=(A,)) as client:
        client.simulate({"antimony": text})
        client.simulate({"antimony": text})
    assert sent == [{"sha256": sha256_text(text)}, {"antimony": text}, {"sha256": sha256_text(text)}]


def test_knockout_batches_are_chunked_and_merged_in_order():
    bodies = []

    def handler(method, url, body, headers):
        request = json.loads(body)
        bodies.append(request)
        ids = request.get("genes") or request.get("reactions")
        return json_response(200, {"status": "optimal", "wild_type_growth": 1.0, "model": {"id": "m"},
                                   "results": [{"id": i, "growth": 0.5} for i in ids]})

    genes = [f"g{i}" for i in range(10)]
    progress = []
    with client_with(handler) as client:
        result = client.knockouts("m", genes=genes, reactions=["r1", "r2"], chunk_size=3,
                                  progress=lambda done, total: progress.append((done, total)))
    assert [r["id"] for r in result["results"]] == [*genes, "r1", "r2"]
    assert result["chunks"] == 5 and len(bodies) == 5
    assert max(progress) == (12, 12)


@pytest.mark.parametrize("grid, chunk", [
    ({"a": [1, 2, 3, 4, 5]}, 2),
    ({"a": [1, 2, 3], "b": [10, 20, 30, 40]}, 5),
    ({"a": [1], "b": [1, 2, 3, 4, 5, 6, 7], "c": [0, 1]}, 3),
    ({"a": [1, 2], "b": [1, 2, 3], "c": [1, 2, 3, 4]}, 5),
    ({"a": [1, 2]}, 100),
])
def test_split_grid_pieces_concatenate_to_the_whole_product_in_order(grid, chunk):
    pieces = split_grid(grid, chunk)
    whole = list(itertools.product(*grid.values()))
    joined = [p for g in pieces for p in itertools.product(*g.values())]
    assert joined == whole
    assert all(len(list(itertools.product(*g.values()))) <= max(chunk, 1) for g in pieces)
