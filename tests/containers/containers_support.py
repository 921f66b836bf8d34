"""The container suite's cluster: the chart rendered by the real Helm, its pods started as containers by
:mod:`kubelet`, its Services played by Docker's embedded DNS (network aliases named as cluster DNS names
them), and the helpers the scenarios share (metrics, per-VM attribution, image facts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from kubelet import CLUSTER_DOMAIN, Container, Pod, Unsupported, docker, remove_labelled, scratch_dir
from support import ROOT, metric_value, wait_for

sys.path.insert(0, str(ROOT / "tests" / "chart"))
from chart_support import CHART, HELM  # noqa: E402  (the chart tests' Helm, one renderer for both suites)

IMAGES_SCRIPT = ROOT / "scripts" / "images.sh"
FACTS_FILE = ROOT / "build" / "container-facts.json"
# Not the chart defaults ("bioxen"/"default"), so a VM that ignored BIOXEN_RELEASE or POD_NAMESPACE
# would look for names nobody answers.
RELEASE = "cells"
NAMESPACE = "lab"
TOKEN = "ct-token-8f1d2c"
# Each VM container runs one round of its process program every INTERVAL seconds instead of the
# command's default 10 s (appended to the chart's args): load enough to see spreading within seconds.
VM_INTERVAL = ["--interval", "0.2"]
LABEL_KEY = "org.bioxen.container-test"
SERVED = {"static": "/compute/metabolic", "dynamic": "/compute/kinetic"}  # what a VM round calls


def render(*sets: str) -> list[dict]:
    import yaml

    args = [str(HELM), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
            "--set", "auth.enabled=true", "--set-string", f"auth.token={TOKEN}"]
    for item in sets:
        args += ["--set", item]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def build_images() -> str:
    """``scripts/images.sh build`` once; returns its output. Skips when no engine can run here."""
    env = {**os.environ, "PY": sys.executable, "HELM": str(HELM)}
    engine = subprocess.run(["bash", str(IMAGES_SCRIPT), "engine"], capture_output=True, text=True, env=env,
                            timeout=600)
    if engine.returncode != 0:
        import pytest

        pytest.skip("no Docker engine can run here (scripts/images.sh engine failed): "
                    + " ".join((engine.stderr or engine.stdout).strip().splitlines()[-3:]))
    build = subprocess.run(["bash", str(IMAGES_SCRIPT), "build"], capture_output=True, text=True, env=env,
                           timeout=1800)
    assert build.returncode == 0, f"scripts/images.sh build failed:\n{build.stdout}\n{build.stderr}"
    return build.stdout


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class Cluster:
    """The rendered chart's pods as containers on two user-defined networks: ``pods`` (every container;
    where the kubelet's probes reach them) and ``services``, which a service container joins, under its
    Services' DNS names, only once its readiness probe passes (publishNotReadyAddresses: false). The VMs
    and the helm test pod live on ``services``."""

    def __init__(self, objects: list[dict], run_id: str):
        self.objects = objects
        self.run_id = run_id
        self.label = {LABEL_KEY: run_id}
        self.pod_net = f"bioxen-ct-{run_id}-pods"
        self.svc_net = f"bioxen-ct-{run_id}-services"
        self.files = scratch_dir()
        self.containers: dict[str, Container] = {}
        self.counter: dict[str, int] = {}
        self.vms: list[Container] = []

    # -- life cycle ------------------------------------------------------------------------------------
    def up(self) -> "Cluster":
        self.remove_stale()
        for net in (self.pod_net, self.svc_net):
            docker("network", "create", "--label", f"{LABEL_KEY}={self.run_id}", net)
        return self

    @staticmethod
    def remove_stale() -> None:
        """Containers and networks an earlier run of this suite left behind (its pytest process is gone,
        e.g. killed): they carry this suite's label with that run's pid."""
        for what in ("ps -a", "network ls"):
            listed = docker(*what.split(), "--filter", f"label={LABEL_KEY}", "--format",
                            f'{{{{.ID}}}} {{{{.Label "{LABEL_KEY}"}}}}', check=False).stdout.split("\n")
            for line in filter(None, listed):
                ident, run_id = line.split()
                if run_id.isdigit() and not Path(f"/proc/{run_id}").exists():
                    docker(*(["rm", "-f"] if what == "ps -a" else ["network", "rm"]), ident, check=False)

    def down(self) -> None:
        remove_labelled(f"{LABEL_KEY}={self.run_id}")
        for net in (self.pod_net, self.svc_net):
            docker("network", "rm", net, check=False)
        shutil.rmtree(self.files, ignore_errors=True)

    def deployment(self, component: str, index: int = 0) -> str:
        names = [o["metadata"]["name"] for o in self.objects if o["kind"] == "Deployment"
                 and o["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component]
        return names[index]

    def replicas_wanted(self, deployment: str) -> int:
        """The Deployment's replicas, or the HPA's minReplicas when autoscaling leaves them out."""
        dep = next(o for o in self.objects if o["kind"] == "Deployment" and o["metadata"]["name"] == deployment)
        if "replicas" in dep["spec"]:
            return dep["spec"]["replicas"]
        hpa = next(o for o in self.objects if o["kind"] == "HorizontalPodAutoscaler"
                   and o["spec"]["scaleTargetRef"]["name"] == deployment)
        return hpa["spec"]["minReplicas"]

    def start(self, kind: str, name: str, extra_args: list[str] = (), network: str | None = None) -> Container:
        """Start the next pod of a workload (pod name ``<workload>-<n>``) without waiting."""
        n = self.counter.get(name, 0) + 1
        self.counter[name] = n
        pod_name = name if kind == "Pod" else f"{name}-{n}"
        pod = Pod.of(self.objects, kind, name, pod_name)
        container = Container.run(pod, name=f"bxct-{self.run_id}-{pod_name}", network=network or self.pod_net,
                                  files_dir=self.files, labels=self.label, extra_args=list(extra_args))
        self.containers[container.name] = container
        return container

    def ready(self, container: Container) -> Container:
        container.wait_started(container.network)
        self.publish(container)
        return container

    def start_ready(self, kind: str, names: list[str], extra_args: list[str] = ()) -> list[Container]:
        started = [self.start(kind, n, extra_args) for n in names]
        with ThreadPoolExecutor(len(started)) as pool:
            return list(pool.map(self.ready, started))

    # -- Services as DNS names -------------------------------------------------------------------------
    def services_of(self, container: Container) -> list[dict]:
        out = []
        for svc in self.objects:
            if svc["kind"] != "Service" or not matches(svc["spec"].get("selector") or {}, container.pod.labels):
                continue
            for port in svc["spec"]["ports"]:
                if port["port"] != container.port(port.get("targetPort", port["port"])):
                    raise Unsupported(f"Service {svc['metadata']['name']} maps port {port['port']} to "
                                      f"{port.get('targetPort')}: a DNS alias cannot remap ports")
            out.append(svc)
        return out

    def dns_name(self, service: str) -> str:
        return f"{service}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}"

    def publish(self, container: Container) -> None:
        services = self.services_of(container)
        if not services:
            return
        aliases = [a for svc in services for a in ("--alias", self.dns_name(svc["metadata"]["name"]))]
        docker("network", "connect", *aliases, self.svc_net, container.name)

    # -- looking at it ---------------------------------------------------------------------------------
    def replicas(self, component: str) -> list[Container]:
        return [c for c in self.containers.values()
                if c.pod.labels.get("app.kubernetes.io/component") == component and c.state()["Running"]]

    def metrics(self, container: Container, port_ref) -> str:
        response = requests.get(f"{container.url(container.network, port_ref)}/metrics", timeout=10)
        response.raise_for_status()
        return response.text


def served(cluster: Cluster, container: Container, component: str) -> float:
    """Requests a service replica answered with 200 on the route a VM round calls."""
    return metric_value(cluster.metrics(container, "http"), "bioxen_http_requests_total",
                        endpoint=SERVED[component], status="200")


def vm_outcomes(cluster: Cluster, vm: Container) -> dict[str, float]:
    text = cluster.metrics(vm, "metrics")
    out = {o: metric_value(text, "bioxen_vm_computations_total", outcome=o) for o in ("success", "error", "fallback")}
    out["fallbacks"] = metric_value(text, "bioxen_vm_fallbacks_total")
    return out


def attribute(cluster: Cluster, vm: Container, vms: list[Container], component: str, rounds: int = 8,
              timeout: float = 60) -> dict[str, float]:
    """Requests each ``component`` replica served for ``vm`` alone: the other VMs are frozen
    (``docker pause``) while ``vm`` completes ``rounds`` more successful computations."""
    others = [v for v in vms if v.name != vm.name]
    for other in others:
        docker("pause", other.name)
    try:
        time.sleep(0.5)  # a request a frozen VM sent just before may still be counted; let it land
        replicas = cluster.replicas(component)
        before = {r.name: served(cluster, r, component) for r in replicas}
        start = vm_outcomes(cluster, vm)["success"]
        wait_for(lambda: vm_outcomes(cluster, vm)["success"] >= start + rounds, timeout,
                 f"{vm.name} completing {rounds} computations")
        return {r.name: served(cluster, r, component) - before[r.name] for r in replicas}
    finally:
        for other in others:
            docker("unpause", other.name, check=False)


# -- image facts -----------------------------------------------------------------------------------------
PROBE_VERSIONS = {
    "static": ["cobra", "optlang", "swiglpk", "python-libsbml"],
    "dynamic": ["libroadrunner", "antimony", "python-libsbml"],
    "vm": ["bioxen-vm", "dnspython", "prometheus-client"],
}


def image_facts(image: str, component: str) -> dict:
    info = json.loads(docker("image", "inspect", image).stdout)[0]
    script = ("import json, platform, importlib.metadata as m\n"
              f"names = {PROBE_VERSIONS[component]!r}\n"
              "print(json.dumps({'python': platform.python_version(),"
              " 'packages': {n: m.version(n) for n in names}}))")
    run = docker("run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", script)
    inside = json.loads(run.stdout)
    return {"image": image, "size_mb": round(info["Size"] / 1e6), "user": info["Config"]["User"],
            "base": (info["Config"].get("Labels") or {}).get("org.bioxen.base", "?"), **inside}


def record_facts(facts: dict) -> None:
    FACTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(FACTS_FILE.read_text()) if FACTS_FILE.is_file() else {}
    old.update(facts)
    FACTS_FILE.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
