"""Discovery through real DNS and replicas that come and go, on one cluster of containers (see conftest).

Docker's embedded DNS plays cluster DNS: every service replica, once ready, answers under its headless
Service's name (``cells-static.lab.svc.cluster.local``), and the VM containers run ``bioxen vm run`` with
only the environment the chart gives them. The scenarios run in file order on the same cluster: the
replicas the later ones see are what the earlier ones left (one static replica SIGKILLed, a third one
added, then one stopped mid-computation)."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests

from bioxen_vm.settings import DNS_TTL_MAX_SECONDS
from containers_support import TOKEN, attribute, record_facts, served, vm_outcomes, wait_for
from kubelet import docker, env_pairs
from support import MODELS, metric_value

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def endpoints_known(cluster, vm, service: str) -> float:
    return metric_value(cluster.metrics(vm, "metrics"), "bioxen_vm_service_endpoints", service=service)


def clean(outcomes: dict) -> dict:
    """The outcomes that must not grow: errors, symbolic fallbacks."""
    return {k: v for k, v in outcomes.items() if k != "success"}


def test_vms_resolve_every_ready_replica_under_the_headless_service_names(cluster):
    for component in ("static", "dynamic"):
        name = cluster.dns_name(cluster.deployment(component))  # the headless Service shares the name
        expected = sorted(r.ip(cluster.svc_net) for r in cluster.replicas(component))
        assert len(expected) == 2
        for vm in cluster.vms:
            env = dict(env_pairs(vm.pod, vm.spec))
            assert name == f"{env['BIOXEN_RELEASE']}-{component}.{env['POD_NAMESPACE']}.svc.cluster.local"
            script = ("import sys, dns.resolver\n"
                      "a = dns.resolver.resolve(sys.argv[1], 'A')\n"
                      "print(a.rrset.ttl, *sorted(r.address for r in a))")
            ttl, *addresses = docker("exec", vm.name, "python", "-c", script, name).stdout.split()
            assert sorted(addresses) == expected
            record_facts({"docker_dns_ttl_seconds": int(ttl)})
            wait_for(lambda: endpoints_known(cluster, vm, component) == 2, 30,
                     f"{vm.name} knowing both {component} replicas")


def test_helm_test_pod_passes_against_the_replicas_with_auth_on(cluster):
    [name] = [o["metadata"]["name"] for o in cluster.objects if o["kind"] == "Pod"
              and o["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    pod = cluster.start("Pod", name, network=cluster.svc_net)
    assert "BIOXEN_API_TOKEN_FILE" in dict(env_pairs(pod.pod, pod.spec))
    code = int(docker("wait", pod.name, timeout=180).stdout.strip())
    logs = pod.logs()
    assert code == 0, logs
    assert len(re.findall(r"\bhealthy\b", logs)) == 2 and "UNREACHABLE" not in logs, logs


@pytest.mark.parametrize("component", ["static", "dynamic"])
def test_each_vm_spreads_its_work_over_both_replicas(cluster, component):
    for vm in cluster.vms:
        shares = attribute(cluster, vm, cluster.vms, component)
        assert len(shares) == 2 and all(n > 0 for n in shares.values()), (vm.name, shares)
        assert clean(vm_outcomes(cluster, vm)) == {"error": 0, "fallback": 0, "fallbacks": 0}


def test_sigkill_of_a_static_replica_under_load_loses_no_computation(cluster):
    victim, survivor = cluster.replicas("static")
    before = {vm.name: vm_outcomes(cluster, vm) for vm in cluster.vms}
    victim.kill("KILL")
    assert not victim.state()["Running"]
    for vm in cluster.vms:  # the failed endpoint sends the client back to DNS, which no longer lists it
        wait_for(lambda: endpoints_known(cluster, vm, "static") == 1, 30, f"{vm.name} dropping the killed replica")
        start = vm_outcomes(cluster, vm)["success"]
        wait_for(lambda: vm_outcomes(cluster, vm)["success"] >= start + 10, 60, f"{vm.name} computing on")
    for vm in cluster.vms:
        after = vm_outcomes(cluster, vm)
        assert after["success"] > before[vm.name]["success"]
        assert clean(after) == clean(before[vm.name]), f"{vm.name}: computations lost or symbolic: {after}"
    assert served(cluster, survivor, "static") > 0


def test_a_new_replica_is_used_once_the_capped_ttl_has_passed(cluster):
    name = cluster.deployment("static")
    new = cluster.ready(cluster.start("Deployment", name))
    published = time.monotonic()
    # the VMs hold a DNS answer at most DNS_TTL_MAX_SECONDS (Docker answers with 600 s)
    wait_for(lambda: served(cluster, new, "static") > 0, DNS_TTL_MAX_SECONDS + 20, "the new replica serving VMs")
    record_facts({"new_replica_first_request_seconds": round(time.monotonic() - published, 1)})
    for vm in cluster.vms:
        wait_for(lambda: endpoints_known(cluster, vm, "static") == 2, DNS_TTL_MAX_SECONDS + 20,
                 f"{vm.name} knowing the new replica")
        shares = attribute(cluster, vm, cluster.vms, "static")
        assert shares[new.name] > 0 and all(n > 0 for n in shares.values()), (vm.name, shares)


def iMM904_reactions(count: int) -> list[str]:
    return re.findall(r'<reaction[^>]*\sid="R_([^"]+)"', MODELS["iMM904"].read_text())[:count]


def test_docker_stop_mid_computation_drains_the_request_and_exits_zero(cluster):
    """The kubelet's termination (preStop sleep, SIGTERM, SIGKILL at the grace period) with a long FVA
    in flight on the replica at SIGTERM (sent as the preStop sleep ends): the FVA is answered in full,
    the container exits 0 within the grace period."""
    target = cluster.replicas("static")[0]
    before = {vm.name: vm_outcomes(cluster, vm) for vm in cluster.vms}
    reactions = iMM904_reactions(600)
    result: dict = {}

    def call():
        try:
            result["response"] = requests.post(target.url(target.network, "http") + "/v1/fva", headers=AUTH,
                                               json={"model": {"id": "iMM904"}, "reactions": reactions}, timeout=150)
        finally:
            result["done"] = time.monotonic()

    thread = threading.Thread(target=call)

    def send():
        thread.start()
        time.sleep(1.0)
        assert "done" not in result, "the FVA ended within a second: too short to be in flight at SIGTERM"

    stop = target.stop(before_sigterm=send)
    thread.join(150)
    response = result["response"]
    assert response.status_code == 200, response.text[:300]
    assert set(response.json()["ranges"]) == set(reactions)
    assert result["done"] > stop["sigterm_at"], "the FVA finished before SIGTERM: nothing was drained"
    assert stop["exit_code"] == 0 and not stop["oom_killed"], stop
    assert stop["seconds"] < target.pod.grace_seconds, stop
    record_facts({"drain_fva_seconds_after_sigterm": round(result["done"] - stop["sigterm_at"], 1),
                  "stop_seconds": round(stop["seconds"], 1)})
    for vm in cluster.vms:
        assert clean(vm_outcomes(cluster, vm)) == clean(before[vm.name]), vm.name
