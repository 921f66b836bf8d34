"""Fixtures of the client tests: replica sets of the real services on distinct loopback addresses
(one port, as a headless Service gives one port on many pod IPs) and a real dnsmasq naming them."""

from __future__ import annotations

import pytest

from client_support import DYNAMIC_HOSTS, STATIC_HOSTS, DnsServer, ReplicaSet, cluster_name, port_free_on


@pytest.fixture(scope="session")
def replica_port() -> int:
    return port_free_on(STATIC_HOSTS + DYNAMIC_HOSTS)


@pytest.fixture(scope="session")
def static_replicas(replica_port):
    replicas = ReplicaSet("static", STATIC_HOSTS, replica_port, preload="e_coli_core").start()
    yield replicas
    replicas.stop()


@pytest.fixture(scope="session")
def dynamic_replicas(replica_port):
    replicas = ReplicaSet("dynamic", DYNAMIC_HOSTS, replica_port, preload="gene_expression").start()
    yield replicas
    replicas.stop()


@pytest.fixture()
def dns_server(static_replicas, dynamic_replicas):
    """dnsmasq serving the chart's headless names: static -> the first two static replicas, dynamic ->
    both dynamic replicas. Function-scoped: tests change its records."""
    server = DnsServer({cluster_name("static"): STATIC_HOSTS[:2], cluster_name("dynamic"): DYNAMIC_HOSTS})
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def cluster_env(dns_server, replica_port) -> dict[str, str]:
    """The environment of a VM pod in namespace "default", pointed at the test's DNS server."""
    return {"POD_NAMESPACE": "default", "BIOXEN_DNS_SERVER": dns_server.address,
            "BIOXEN_SERVICE_PORT": str(replica_port)}


# -- in-process references on the same shipped files ------------------------------------------------
@pytest.fixture(scope="session")
def reference_ecoli():
    """e_coli_core read by cobra in this process (GLPK), independently of the services."""
    import cobra

    from support import MODELS

    cobra.Configuration().solver = "glpk"
    return cobra.io.read_sbml_model(str(MODELS["e_coli_core"]))


@pytest.fixture(scope="session")
def gene_expression_text() -> str:
    from support import BYTECODE

    return (BYTECODE / "kinetic" / "gene_expression.ant").read_text()


@pytest.fixture()
def reference_rr(gene_expression_text):
    """A fresh RoadRunner of the gene-expression program, compiled here through libAntimony."""
    import antimony
    import roadrunner

    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString(gene_expression_text) >= 0, antimony.getLastError()
    return roadrunner.RoadRunner(antimony.getSBMLString(antimony.getMainModuleName()))


@pytest.fixture()
def client(static_url, dynamic_url):
    from bioxen_vm import BiologicalComputationClient

    with BiologicalComputationClient(static_url, dynamic_url, environ={}) as c:
        yield c
