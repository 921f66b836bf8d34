"""Discovery against a real DNS server (dnsmasq on loopback) and real service replicas on distinct
127.0.0.x addresses: spreading, failover, dead endpoints coming back, re-resolution after the TTL."""

from __future__ import annotations

import pytest

from bioxen_vm import BiologicalComputationClient, EndpointNotFound, ServiceUnavailable
from bioxen_vm.discovery import DnsSource, EndpointPool, StaticSource, source_for
from bioxen_vm.settings import ClientSettings, split_urls
from client_support import FakeClock, cluster_name
from client_support import DYNAMIC_HOSTS, STATIC_HOSTS

REFERENCE_GROWTH = 0.873922  # e_coli_core, default medium (DESIGN.md)


# -- discovery order (no network) -------------------------------------------------------------------
@pytest.mark.parametrize("explicit, environ, expected", [
    ("http://a:1", {"BIOXEN_STATIC_URL": "http://b:2"}, ("explicit", ["http://a:1"])),
    (["a:1", "http://c:3/"], {}, ("explicit", ["http://a:1", "http://c:3"])),
    (None, {"BIOXEN_STATIC_URL": "http://b:2, http://d:4"}, ("BIOXEN_STATIC_URL", ["http://b:2", "http://d:4"])),
    (None, {"BIOXEN_STATIC_URL": " , "}, None),
])
def test_discovery_order_explicit_then_environment_then_dns(explicit, environ, expected):
    source = source_for("static", explicit, ClientSettings.from_env({"POD_NAMESPACE": "lab", **environ}))
    if expected is None:
        assert isinstance(source, DnsSource)
        assert source.hostname == "bioxen-static.lab.svc.cluster.local"
    else:
        assert isinstance(source, StaticSource)
        assert (source.origin, source.urls) == expected


def test_cluster_settings_follow_the_chart_naming_contract():
    settings = ClientSettings.from_env({"BIOXEN_RELEASE": "prod", "POD_NAMESPACE": "cells",
                                        "BIOXEN_CLUSTER_DOMAIN": "example.org", "BIOXEN_SERVICE_PORT": "9000"})
    assert settings.hostname("dynamic") == "prod-dynamic.cells.svc.example.org"
    assert settings.service_port == 9000 and settings.in_cluster
    with pytest.raises(ValueError, match="BIOXEN_SERVICE_PORT"):
        ClientSettings.from_env({"BIOXEN_SERVICE_PORT": "eighty"})


def test_split_urls_normalises():
    assert split_urls("127.0.0.1:8000/,http://x:1") == ["http://127.0.0.1:8000", "http://x:1"]
    assert split_urls(None) == []


def test_pool_round_robin_is_shuffled_and_covers_every_endpoint():
    urls = [f"http://10.0.0.{i}:8000" for i in range(1, 6)]
    pool = EndpointPool("static", StaticSource(urls, "explicit"))
    rounds = [[pool.next() for _ in urls] for _ in range(20)]
    assert all(sorted(r) == urls for r in rounds)  # each round visits each endpoint once
    assert len({tuple(r) for r in rounds}) > 1      # and not always in the same order


def test_dead_endpoint_leaves_rotation_and_returns_after_its_backoff():
    clock = FakeClock()
    urls = ["http://10.0.0.1:8000", "http://10.0.0.2:8000"]
    pool = EndpointPool("static", StaticSource(urls, "explicit"), clock=clock)
    pool.mark_failed(urls[0], "connection refused")
    assert {pool.next() for _ in range(10)} == {urls[1]}
    clock.advance(60)
    assert urls[0] in {pool.next() for _ in range(10)}  # offered again: one probe
    pool.mark_ok(urls[0])
    assert pool.dead() == []


# -- real DNS -----------------------------------------------------------------------------------------
def test_dns_source_returns_every_a_record_and_the_ttl(dns_server, replica_port):
    source = DnsSource(cluster_name("static"), replica_port, dns_server.address)
    urls, ttl = source.resolve()
    assert urls == [f"http://{h}:{replica_port}" for h in STATIC_HOSTS[:2]]
    assert ttl == 1.0  # dnsmasq --local-ttl=1


def test_dns_answers_are_kept_no_longer_than_the_ceiling(dns_server, replica_port):
    # Docker's embedded DNS answers with TTL 600 s: the ceiling (BIOXEN_DNS_TTL_MAX_SECONDS, default 5 s)
    # bounds how long a new replica stays unseen
    source = source_for("static", settings=ClientSettings.from_env({
        "POD_NAMESPACE": "default", "BIOXEN_DNS_SERVER": dns_server.address,
        "BIOXEN_SERVICE_PORT": str(replica_port), "BIOXEN_DNS_TTL_MAX_SECONDS": "0.25"}))
    assert source.resolve()[1] == 0.25
    assert ClientSettings.from_env({}).dns_ttl_max == 5.0
    with pytest.raises(ValueError, match="BIOXEN_DNS_TTL_MAX_SECONDS"):
        ClientSettings.from_env({"BIOXEN_DNS_TTL_MAX_SECONDS": "soon"})


def test_requests_spread_over_all_replicas_found_in_dns(cluster_env, static_replicas, dynamic_replicas):
    before_s = static_replicas.requests_served("/v1/fba")
    before_d = dynamic_replicas.requests_served("/v1/simulate")
    with BiologicalComputationClient(environ=cluster_env) as client:
        assert client.check_service_health() == {"static_service": True, "dynamic_service": True}
        growth = [client.fba("e_coli_core")["objective_value"] for _ in range(12)]
        finals = [client.simulate("gene_expression")["trajectories"]["protein"][-1] for _ in range(6)]
    assert growth == pytest.approx([REFERENCE_GROWTH] * 12, abs=1e-6)
    assert finals == pytest.approx([0.487050] * 6, abs=1e-6)
    after_s = static_replicas.requests_served("/v1/fba")
    served = {h: after_s[h] - before_s[h] for h in STATIC_HOSTS}
    # shuffled round robin over the two addresses in DNS: exactly half each; the third is not in DNS
    assert served == {STATIC_HOSTS[0]: 6, STATIC_HOSTS[1]: 6, STATIC_HOSTS[2]: 0}
    after_d = dynamic_replicas.requests_served("/v1/simulate")
    assert {h: after_d[h] - before_d[h] for h in DYNAMIC_HOSTS} == {DYNAMIC_HOSTS[0]: 3, DYNAMIC_HOSTS[1]: 3}


def test_failover_when_a_replica_stops_and_its_return(cluster_env, static_replicas):
    clock = FakeClock()
    stopped = STATIC_HOSTS[1]
    with BiologicalComputationClient(environ=cluster_env, clock=clock, backoff=0.001) as client:
        static_replicas.replicas[stopped].stop()
        try:
            answers = [client.fba("e_coli_core")["objective_value"] for _ in range(10)]
            assert answers == pytest.approx([REFERENCE_GROWTH] * 10, abs=1e-6)  # none failed
            assert client.pools["static"].dead() == [static_replicas.url(stopped)]
            phase1 = client.request_static_computation({"chassis_type": "ecoli"})
            assert phase1["status"] == "optimal"
        finally:
            static_replicas.replicas[stopped].start()
        before = static_replicas.requests_served("/v1/fba")[stopped]
        clock.advance(120)  # past the back-off and the TTL: the endpoint gets another chance
        for _ in range(6):
            client.fba("e_coli_core")
        assert static_replicas.requests_served("/v1/fba")[stopped] > before
        assert client.pools["static"].dead() == []


def test_re_resolution_after_the_ttl_follows_changed_records(cluster_env, dns_server, static_replicas):
    clock = FakeClock()
    with BiologicalComputationClient(environ=cluster_env, clock=clock) as client:
        client.fba("e_coli_core")
        assert client.endpoints("static") == [static_replicas.url(h) for h in STATIC_HOSTS[:2]]
        # the Deployment scaled: one pod gone, a new one ready
        dns_server.update({cluster_name("static"): [STATIC_HOSTS[2]],
                           cluster_name("dynamic"): DYNAMIC_HOSTS})
        assert client.endpoints("static") == [static_replicas.url(h) for h in STATIC_HOSTS[:2]]  # TTL not over
        before = static_replicas.requests_served("/v1/fba")
        clock.advance(1.5)  # the answer's TTL (1 s) has passed
        for _ in range(3):
            assert client.fba("e_coli_core")["objective_value"] == pytest.approx(REFERENCE_GROWTH, abs=1e-6)
        after = static_replicas.requests_served("/v1/fba")
        assert client.endpoints("static") == [static_replicas.url(STATIC_HOSTS[2])]
        assert {h: after[h] - before[h] for h in STATIC_HOSTS} == {STATIC_HOSTS[0]: 0, STATIC_HOSTS[1]: 0,
                                                                    STATIC_HOSTS[2]: 3}


def test_unknown_name_is_service_unavailable_with_the_reason(cluster_env, caplog):
    env = {**cluster_env, "BIOXEN_RELEASE": "nosuchrelease"}
    with BiologicalComputationClient(environ=env, retries=3, backoff=0.001) as client:
        with caplog.at_level("INFO", logger="bioxen_vm"):
            with pytest.raises(EndpointNotFound, match="cannot resolve nosuchrelease-static") as exc:
                client.fba("e_coli_core")
        assert isinstance(exc.value, ServiceUnavailable)
        assert "BIOXEN_STATIC_URL=http://HOST:PORT" in str(exc.value) and "--static-url" in str(exc.value)
        assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []  # said once: raised
        answer = client.request_dynamic_computation({})
        assert answer["status"] == "service_unavailable"
        assert "nosuchrelease-dynamic" in answer["error"]
        assert client.check_service_health() == {"static_service": False, "dynamic_service": False}
