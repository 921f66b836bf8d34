"""Fixtures of the container suite: the images built once per run (scripts/images.sh), and one cluster of
the chart's pods (auth on, release "cells" in namespace "lab") shared by the scenarios."""

from __future__ import annotations

import os

import pytest

from containers_support import VM_INTERVAL, Cluster, build_images, record_facts, render


@pytest.fixture(scope="session")
def images() -> str:
    return build_images()


@pytest.fixture(scope="session")
def cluster_objects() -> list[dict]:
    return render()


@pytest.fixture(scope="session")
def cluster(images, cluster_objects):
    """Both services at the replica count the chart starts with (the HPA's minReplicas), each replica
    published under its Services' DNS names once ready, and two VM pods under load."""
    cluster = Cluster(cluster_objects, run_id=str(os.getpid())).up()
    try:
        starts = {}
        for component in ("static", "dynamic"):
            name = cluster.deployment(component)
            starts[component] = cluster.start_ready("Deployment", [name] * cluster.replicas_wanted(name))
        record_facts({f"ready_seconds_{component}": round(max(c.ready_seconds for c in started), 1)
                      for component, started in starts.items()})
        cluster.vms = [cluster.start("Deployment", cluster.deployment("vm", i), VM_INTERVAL, network=cluster.svc_net)
                       for i in range(2)]
        for vm in cluster.vms:
            vm.wait_started(vm.network)
        record_facts({"ready_seconds_vm": round(max(vm.ready_seconds for vm in cluster.vms), 1)})
        yield cluster
    finally:
        cluster.down()
