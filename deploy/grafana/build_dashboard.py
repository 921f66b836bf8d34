"""Writes deploy/grafana/bioxen-dashboard.json, the BioXen Grafana dashboard (the chart ships the same
file as a ConfigMap for the Grafana sidecar). Panels are declared here as data, so the JSON stays
consistent (ids, grid positions) and the tests can read every PromQL expression from one place.

    python deploy/grafana/build_dashboard.py          # rewrite the JSON
    python deploy/grafana/build_dashboard.py --check  # exit 1 when the JSON is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("bioxen-dashboard.json")
UID = "bioxen-services"

SEL = 'namespace=~"$namespace", service=~"$service"'
VM_SEL = 'namespace=~"$namespace"'
RATE = "$__rate_interval"


def ratio_by_status(pattern: str) -> str:
    """Share of requests whose status matches ``pattern``; 0 (not empty) when there are none."""
    total = f"sum by (service) (rate(bioxen_http_requests_total{{{SEL}}}[{RATE}]))"
    part = f'sum by (service) (rate(bioxen_http_requests_total{{{SEL}, status=~"{pattern}"}}[{RATE}]))'
    return f"({part} or 0 * {total}) / {total}"


def quantile(q: float, metric: str, by: str, sel: str = SEL) -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{sel}}}[{RATE}])))"


# model cache lookups per service; each side is 0 (not empty) while only the other has happened
_HITS = f"sum by (service) (rate(bioxen_model_cache_hits_total{{{SEL}}}[{RATE}]))"
_MISSES = f"sum by (service) (rate(bioxen_model_cache_misses_total{{{SEL}}}[{RATE}]))"
CACHE_HITS = f"({_HITS} or 0 * {_MISSES})"
CACHE_MISSES = f"({_MISSES} or 0 * {_HITS})"

# (row title, [(panel title, unit, [(legend, expr), ...]), ...])
ROWS = [
    ("Traffic", [
        ("Request rate by service and endpoint", "reqps", [
            ("{{service}} {{method}} {{endpoint}}",
             f"sum by (service, method, endpoint) (rate(bioxen_http_requests_total{{{SEL}}}[{RATE}]))")]),
        ("Error ratio", "percentunit", [
            ("{{service}} 5xx", ratio_by_status("5..")),
            ("{{service}} 4xx", ratio_by_status("4.."))]),
        ("Latency p50 / p95 / p99 by service and endpoint", "s", [
            (f"{{{{service}}}} {{{{endpoint}}}} p{int(q * 100)}",
             quantile(q, "bioxen_http_request_duration_seconds", "service, endpoint"))
            for q in (0.5, 0.95, 0.99)]),
        ("Requests in flight", "short", [
            ("{{service}}", f"sum by (service) (bioxen_http_requests_in_flight{{{SEL}}})")]),
    ]),
    ("Computations", [
        ("Computations by kind and status", "ops", [
            ("{{service}} {{kind}} {{status}}",
             f"sum by (service, kind, status) (rate(bioxen_computations_total{{{SEL}}}[{RATE}]))")]),
        ("Solver and simulation time p95 by kind", "s", [
            ("{{service}} {{kind}} p95", quantile(0.95, "bioxen_computation_duration_seconds", "service, kind"))]),
        ("Mean solver and simulation time by kind", "s", [
            ("{{service}} {{kind}}",
             f"sum by (service, kind) (rate(bioxen_computation_duration_seconds_sum{{{SEL}}}[{RATE}]))"
             f" / sum by (service, kind) (rate(bioxen_computation_duration_seconds_count{{{SEL}}}[{RATE}]))")]),
        ("dFBA time (p50 / p95)", "s", [
            (f"dfba p{int(q * 100)}",
             quantile(q, "bioxen_computation_duration_seconds", "service", f'{SEL}, kind="dfba"'))
            for q in (0.5, 0.95)]),
    ]),
    ("Models and capacity", [
        ("Model cache hit ratio", "percentunit", [
            ("{{service}}", f"{CACHE_HITS} / ({CACHE_HITS} + {CACHE_MISSES})")]),
        ("Models loaded per worker (max)", "short", [
            ("{{service}}", f"max by (service) (bioxen_models_loaded{{{SEL}}})")]),
        ("Mean model load time", "s", [
            ("{{service}} {{source}}",
             f"sum by (service, source) (bioxen_model_load_duration_seconds_sum{{{SEL}}})"
             f" / sum by (service, source) (bioxen_model_load_duration_seconds_count{{{SEL}}})")]),
        ("Replicas (scraped / ready)", "short", [
            ("{{service}} scraped", f"count by (service) (bioxen_ready{{{SEL}}})"),
            ("{{service}} ready", f"sum by (service) (bioxen_ready{{{SEL}}})")]),
    ]),
    ("Engine processes", [
        ("Engine processes alive", "short", [
            ("{{service}}", f"sum by (service) (bioxen_engines{{{SEL}}})")]),
        ("Engines replaced, by reason", "ops", [
            ("{{service}} {{reason}}",
             f"sum by (service, reason) (rate(bioxen_engine_restarts_total{{{SEL}}}[{RATE}]))")]),
        ("Engine replacement time p95 (fork from the template to serving)", "s", [
            ("{{service}} p95", quantile(0.95, "bioxen_engine_spawn_duration_seconds", "service"))]),
    ]),
    ("Jobs", [
        ("Job chunks waiting, by service", "short", [
            ("{{service}}", f"max by (service) (bioxen_job_queue_length{{{SEL}}})")]),
        ("Jobs by state", "short", [
            ("{{service}} {{state}}", f"max by (service, state) (bioxen_jobs{{{SEL}}})")]),
        ("Job chunk time p50 / p95 by kind", "s", [
            (f"{{{{service}}}} {{{{kind}}}} p{int(q * 100)}",
             quantile(q, "bioxen_job_chunk_duration_seconds", "service, kind")) for q in (0.5, 0.95)]),
        ("Job chunks ended by outcome, and retried by reason", "ops", [
            ("{{service}} {{kind}} {{outcome}}",
             f"sum by (service, kind, outcome) (rate(bioxen_job_chunks_total{{{SEL}}}[{RATE}]))"),
            ("{{service}} retried: {{reason}}",
             f"sum by (service, reason) (rate(bioxen_job_chunk_retries_total{{{SEL}}}[{RATE}]))")]),
    ]),
    ("Biological VMs", [
        ("VM fallbacks by reason", "ops", [
            ("{{vm_id}} {{reason}}",
             f"sum by (vm_id, reason) (rate(bioxen_vm_fallbacks_total{{{VM_SEL}}}[{RATE}]))")]),
        ("VM computations by outcome", "ops", [
            ("{{kind}} {{outcome}}",
             f"sum by (kind, outcome) (rate(bioxen_vm_computations_total{{{VM_SEL}}}[{RATE}]))")]),
        ("VM-side computation time p95", "s", [
            ("{{kind}} p95", quantile(0.95, "bioxen_vm_computation_duration_seconds", "kind", VM_SEL))]),
        ("Service endpoints known to the VMs", "short", [
            ("{{service}}", f"max by (service) (bioxen_vm_service_endpoints{{{VM_SEL}}})")]),
    ]),
]

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _variable(name: str, label: str) -> dict:
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"query": f"label_values(bioxen_ready, {name})", "refId": f"{name}-values"},
            "definition": f"label_values(bioxen_ready, {name})", "refresh": 2, "includeAll": True,
            "multi": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1}


def build() -> dict:
    panels, panel_id, y = [], 1, 0
    for row_title, row_panels in ROWS:
        panels.append({"id": panel_id, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        panel_id, y = panel_id + 1, y + 1
        for i, (title, unit, targets) in enumerate(row_panels):
            panels.append({
                "id": panel_id, "type": "timeseries", "title": title, "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": y + 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                            "tooltip": {"mode": "multi"}},
                "targets": [{"refId": chr(ord("A") + j), "datasource": DATASOURCE, "expr": expr,
                             "legendFormat": legend} for j, (legend, expr) in enumerate(targets)],
            })
            panel_id += 1
        y += 8 * ((len(row_panels) + 1) // 2)
    return {
        "uid": UID, "title": "BioXen computation services", "tags": ["bioxen"], "editable": True,
        "schemaVersion": 39, "version": 1, "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
        "timezone": "browser", "graphTooltip": 1,
        "description": "RED metrics, computations, model cache, replicas and VM-side fallbacks of BioXen "
                       "(generated by deploy/grafana/build_dashboard.py)",
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            _variable("namespace", "Namespace"),
            _variable("service", "Service"),
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
