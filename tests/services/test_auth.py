"""The optional shared bearer token: compute endpoints need it, health and metrics stay open to the
kubelet and Prometheus."""

from __future__ import annotations

import re

import pytest
import requests

from support import ServiceProcess

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def guarded():
    with ServiceProcess("dynamic", workers=1, env={"BIOXEN_API_TOKEN": TOKEN}) as proc:
        yield proc.url


@pytest.mark.parametrize("path", ["/health", "/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_probes_and_metrics_stay_open(guarded, path):
    assert requests.get(guarded + path, timeout=10).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_compute_needs_the_token(guarded, headers):
    for method, path in (("POST", "/v1/simulate"), ("POST", "/compute/kinetic"), ("GET", "/v1/models")):
        r = requests.request(method, guarded + path, json={"model": {"id": "gene_expression"}},
                             headers=headers, timeout=10)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_scheme_is_case_insensitive(guarded, scheme):
    r = requests.post(guarded + "/compute/kinetic", json={}, timeout=30,
                      headers={"Authorization": f"{scheme} {TOKEN}"})
    assert r.status_code == 200, r.text


def test_a_non_ascii_authorization_header_is_a_401_not_a_500(guarded):
    """Reported: a 500 from hmac.compare_digest on non-ASCII text (no token was needed to cause it)."""
    r = requests.post(guarded + "/v1/simulate", json={"model": {"id": "gene_expression"}}, timeout=30,
                      headers={"Authorization": "Bearer s3cr\u00e9t".encode("utf-8")})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("given,kept", [("abc-123_x.y:z", True), ("a" * 64, True), ("a" * 65, False),
                                        ("bad id\r\nX-Injected: 1", False), ("<script>", False)])
def test_request_ids_from_clients_are_kept_only_when_well_formed(guarded, given, kept):
    r = requests.get(guarded + "/healthz", timeout=10, headers={"X-Request-ID": given.encode()}) \
        if "\r" not in given else requests.get(guarded + "/healthz", timeout=10,
                                               headers={"X-Request-ID": given.replace("\r\n", " ")})
    echoed = r.headers["X-Request-ID"]
    assert (echoed == given) is kept
    if not kept:
        assert len(echoed) == 32 and all(c in "0123456789abcdef" for c in echoed)


def test_the_token_opens_compute(guarded):
    r = requests.post(guarded + "/compute/kinetic", json={}, timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.json()["final_state"] == pytest.approx([0.367166, 0.487050], abs=1e-6)


def test_token_from_a_mounted_file_for_service_and_client(tmp_path):
    """The chart mounts the Secret as a file: the service and the VM client both read it once."""
    from bioxen_vm import BiologicalComputationClient
    from bioxen_vm.errors import ClientRequestError

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with ServiceProcess("dynamic", workers=1, preload="gene_expression",
                        env={"BIOXEN_API_TOKEN_FILE": str(token_file)}) as proc:
        assert requests.post(proc.url + "/compute/kinetic", json={}, timeout=30).status_code == 401
        with BiologicalComputationClient(proc.url, proc.url,
                                         environ={"BIOXEN_API_TOKEN_FILE": str(token_file)}) as client:
            final = client.simulate("gene_expression")["trajectories"]["mRNA"][-1]
        assert final == pytest.approx(0.367166, abs=1e-6)
        with BiologicalComputationClient(proc.url, proc.url, environ={}) as anonymous:
            with pytest.raises(ClientRequestError) as info:
                anonymous.simulate("gene_expression")
        assert info.value.code == "unauthorized"


def test_unreadable_token_file_stops_start_up(tmp_path):
    from bioxen_services.settings import Settings

    with pytest.raises(ValueError, match="BIOXEN_API_TOKEN_FILE=.*cannot be read"):
        Settings.from_env({"BIOXEN_API_TOKEN_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize("content", ["", "\n", " \t\r\n"])
def test_an_empty_token_file_is_a_configuration_error_on_both_sides(tmp_path, content):
    """One meaning (bioxen_common.token): an empty Secret is a mistake. The service refuses to start
    (it would otherwise run open), the client refuses to be created (it would otherwise call anonymously);
    both name the file."""
    from bioxen_services.settings import Settings
    from bioxen_vm import BiologicalComputationClient

    token_file = tmp_path / "token"
    token_file.write_text(content)
    env = {"BIOXEN_API_TOKEN_FILE": str(token_file), "BIOXEN_API_TOKEN": TOKEN}  # the file wins
    message = re.escape(f"BIOXEN_API_TOKEN_FILE='{token_file}' is empty")
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)
    with pytest.raises(ValueError, match=message):
        BiologicalComputationClient("http://127.0.0.1:9", "http://127.0.0.1:9", environ=env)
    if not content:  # and the real server stops at start-up, saying why
        proc = ServiceProcess("dynamic", workers=1, preload="none", env=env)
        try:
            with pytest.raises(RuntimeError, match=message):
                proc.start(wait=60)
        finally:
            proc.stop()
