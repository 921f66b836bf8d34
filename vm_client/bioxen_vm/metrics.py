"""The VM side's own Prometheus metrics, in a registry of their own (exported by
``bioxen vm run --metrics-port``). Label values stay bounded: VM ids, computation kinds, outcomes
(success, error, fallback) and fallback reasons."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

COMPUTATIONS = Counter("bioxen_vm_computations_total", "Biological processes executed by a VM",
                       ["vm_id", "kind", "outcome"], registry=REGISTRY)
COMPUTATION_SECONDS = Histogram("bioxen_vm_computation_duration_seconds",
                                "Wall-clock time of one VM process execution, service round trips included",
                                ["kind"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
FALLBACKS = Counter("bioxen_vm_fallbacks_total", "Executions that fell back to degraded symbolic execution",
                    ["vm_id", "reason"], registry=REGISTRY)
SERVICE_ENDPOINTS = Gauge("bioxen_vm_service_endpoints", "Service endpoints currently known to the client",
                          ["service"], registry=REGISTRY)


def set_endpoints(service: str, count: int) -> None:
    SERVICE_ENDPOINTS.labels(service).set(count)


def serve(port: int, addr: str = "0.0.0.0"):
    """Export :data:`REGISTRY` over HTTP (``/metrics``) from a background thread."""
    return start_http_server(port, addr=addr, registry=REGISTRY)


def sample(name: str, labels: dict[str, str]) -> float:
    """One sample's current value (0 when absent); handy for tests and the demo summary."""
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value
