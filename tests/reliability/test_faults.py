"""Faults (issue 6), with real processes only: replicas of the real services (one engine process each)
on distinct loopback addresses and one port, found by the VM client through a real dnsmasq serving the
chart's headless-Service names (the client tests' DNS setup), and VMs from ``bioxen_vm`` as the load.

- SIGKILL of a whole replica (front, template and engines, as when a pod is killed) in the middle of the
  load: every VM computation completes on the services with the value the in-process engine computes;
  none is lost, degraded to symbolic, or an error. A computation in flight on the killed replica is sent
  once more, to another replica, because the dead one no longer answers (a request that kills an engine
  gets a 500 from a live front instead, and is never resent: issue 10). DNS keeps naming the dead
  replica, as it does until Kubernetes notices.
- The killed replica restarted with empty caches serves as soon as its /readyz says so (an inline model
  the client names by sha256 is re-sent as text), and the VMs' client takes it back into rotation.
- A VM whose only service is down for a while reports degraded results honestly and, without any
  restart of the VM or its client, computes correctly again once the service is back.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bioxen_vm import BiologicalComputationClient
from bioxen_vm.vm import BasicBiologicalVM
from client.client_support import DnsServer, ReplicaSet, cluster_name, metric_value, port_free_on
from reliability_helpers import gene_expression_rr
from support import MODELS, ServiceProcess, glucose_growth

STATIC_HOSTS = ["127.0.0.31", "127.0.0.32", "127.0.0.33"]
DYNAMIC_HOSTS = ["127.0.0.34", "127.0.0.35"]
OUTAGE_HOST = "127.0.0.36"
GLUCOSE = [-1.0 - 0.5 * i for i in range(18)]  # EX_glc__D_e lower bounds of the metabolic requests
TIME_ENDS = [2.0 + i for i in range(12)]  # time_end of the kinetic requests
VMS = 6
ROUNDS = 12


# -- in-process references --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def growth_by_glucose() -> dict[float, float]:
    return glucose_growth(GLUCOSE)


@pytest.fixture(scope="module")
def final_by_time_end() -> dict[float, dict[str, float]]:
    rr = gene_expression_rr()
    out = {}
    for end in TIME_ENDS:
        rr.resetAll()
        data = rr.simulate(0, end, 100, ["time", "[mRNA]", "[protein]"])
        out[end] = {"mRNA": float(data[-1, 1]), "protein": float(data[-1, 2])}
    return out


# -- the cluster ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def port() -> int:
    return port_free_on(STATIC_HOSTS + DYNAMIC_HOSTS + [OUTAGE_HOST])


@pytest.fixture(scope="module")
def cluster(port):
    static = ReplicaSet("static", STATIC_HOSTS, port, preload="e_coli_core")
    dynamic = ReplicaSet("dynamic", DYNAMIC_HOSTS, port, preload="gene_expression")
    dns = DnsServer({cluster_name("static"): STATIC_HOSTS, cluster_name("dynamic"): DYNAMIC_HOSTS})
    try:
        static.start()
        dynamic.start()
        dns.start()
        yield static, dynamic, {"POD_NAMESPACE": "default", "BIOXEN_DNS_SERVER": dns.address,
                                "BIOXEN_SERVICE_PORT": str(port)}
    finally:
        dns.stop()
        static.stop()
        dynamic.stop()


def _vm(name: str, client: BiologicalComputationClient) -> BasicBiologicalVM:
    vm = BasicBiologicalVM(name, "ecoli", {"strict": False}, client=client)
    vm.start()
    return vm


def _run(vm: BasicBiologicalVM, i: int) -> tuple[str, object, dict]:
    """One computation: metabolic on even i, kinetic on odd i, with a parameter chosen by i."""
    if i % 2 == 0:
        lb = GLUCOSE[i % len(GLUCOSE)]
        return "metabolic", lb, vm.execute_biological_process(
            "metabolic_growth", {"media_constraints": {"EX_glc__D_e": [lb, 1000.0]}})
    end = TIME_ENDS[i % len(TIME_ENDS)]
    return "kinetic", end, vm.execute_biological_process(
        "kinetic_expression", {"time_end": end, "time_points": 100})


def _check(kind: str, param, result: dict, growth_by_glucose, final_by_time_end) -> None:
    assert result["status"] == "success", result.get("degraded_reason", result)
    assert not result.get("degraded") and result["execution_type"] != "symbolic", result
    output = result["biological_output"]
    if kind == "metabolic":
        assert output["growth_rate"] == pytest.approx(growth_by_glucose[param], rel=1e-9), param
    else:
        assert output["final_state"] == pytest.approx(final_by_time_end[param], rel=1e-9), param


def _served(replicas: ReplicaSet, host: str, endpoint: str) -> float:
    text = requests.get(replicas.url(host) + "/metrics", timeout=5).text
    return metric_value(text, "bioxen_http_requests_total", endpoint=endpoint, method="POST", status="200")


@pytest.mark.slow
def test_sigkill_mid_load_then_restart_with_empty_caches(cluster, growth_by_glucose, final_by_time_end,
                                                        ecoli_growth):
    static, dynamic, env = cluster
    victims = {"static": STATIC_HOSTS[1], "dynamic": DYNAMIC_HOSTS[0]}
    done = threading.Semaphore(0)
    killed = threading.Event()
    total = VMS * ROUNDS * 2

    with BiologicalComputationClient(environ=env, timeout=(2.0, 120.0), retries=6, backoff=0.05) as client:
        vms = [_vm(f"ecoli_vm_{n}", client) for n in range(VMS)]

        def work(n: int) -> list:
            out = []
            for r in range(ROUNDS * 2):
                out.append(_run(vms[n], n * ROUNDS * 2 + r))
                done.release()
            return out

        def killer():
            for _ in range(total // 3):  # a third of the computations done: the load is in full swing
                done.acquire()
            for service, host in victims.items():
                replicas = static if service == "static" else dynamic
                served = _served(replicas, host, "/compute/metabolic" if service == "static" else "/compute/kinetic")
                assert served > 0, f"the {service} replica {host} got no work before it was killed"
                replicas.replicas[host].signal(signal.SIGKILL)  # the whole process group, as a pod kill
            killed.set()

        with ThreadPoolExecutor(VMS + 1) as pool:
            kill = pool.submit(killer)
            results = [r for batch in pool.map(work, range(VMS)) for r in batch]
            kill.result()
        assert killed.is_set()
        assert len(results) == total
        for kind, param, result in results:
            _check(kind, param, result, growth_by_glucose, final_by_time_end)
        assert all(vm.get_resource_usage()["degraded_executions"] == 0 for vm in vms)
        assert f"http://{victims['static']}:{static.replicas[victims['static']].port}" in client.pools["static"].dead()

        # restart the killed static replica: empty caches, served as soon as it is ready
        restarted = ServiceProcess("static", host=victims["static"], port=static.replicas[victims["static"]].port,
                                   workers=1, preload="e_coli_core")
        static.replicas[victims["static"]].stop()
        static.replicas[victims["static"]] = restarted
        restarted.start()  # returns once /readyz answers 200
        text = MODELS["e_coli_core"].read_text().replace('id="e_coli_core"', 'id="e_coli_core_restart"', 1)
        with BiologicalComputationClient(restarted.url, timeout=(2.0, 60.0), retries=0) as direct:
            answer = direct.fba({"sbml": text}, fluxes=[])  # by sha256 first: model_not_cached, then the text
        assert answer["objective_value"] == pytest.approx(ecoli_growth, rel=1e-9)

        # the VMs' client takes the restarted replica back once its back-off has passed
        deadline = time.monotonic() + 60
        before = _served(static, victims["static"], "/compute/metabolic")
        i = 0
        while _served(static, victims["static"], "/compute/metabolic") <= before:
            assert time.monotonic() < deadline, "the restarted replica never got work from the client"
            kind, param, result = _run(vms[0], 2 * i)
            _check(kind, param, result, growth_by_glucose, final_by_time_end)
            i += 1
            time.sleep(0.05)
        for vm in vms:
            vm.destroy()


@pytest.mark.slow
def test_vm_recovers_after_its_service_was_down(port, final_by_time_end):
    """One dynamic replica, found through explicit endpoints; killed, left down, started again."""
    service = ServiceProcess("dynamic", host=OUTAGE_HOST, port=port, workers=1, preload="gene_expression").start()
    try:
        with BiologicalComputationClient(dynamic_service_url=service.url, timeout=(1.0, 30.0), retries=1,
                                         backoff=0.01) as client:
            vm = _vm("ecoli_vm_outage", client)
            _check(*_run(vm, 3), {}, final_by_time_end)

            service.signal(signal.SIGKILL)
            service.proc.wait(10)
            for _ in range(3):  # down for a while: honest degraded answers, never invented numbers
                result = vm.execute_biological_process("kinetic_expression", {"time_end": 5.0, "time_points": 100})
                assert result["status"] == "degraded" and result["degraded"], result
                assert result["execution_type"] == "symbolic" and "final_state" not in result["biological_output"]

            service.stop()
            service = ServiceProcess("dynamic", host=OUTAGE_HOST, port=port, workers=1,
                                     preload="gene_expression").start()
            deadline = time.monotonic() + 60
            while True:  # the same VM and client; the endpoint's back-off (a few seconds) has to pass
                kind, param, result = _run(vm, 3)
                if result["status"] == "success":
                    break
                assert result["status"] == "degraded", result
                assert time.monotonic() < deadline, "the VM never recovered"
                time.sleep(0.2)
            _check(kind, param, result, {}, final_by_time_end)
            vm.destroy()
    finally:
        service.stop()
