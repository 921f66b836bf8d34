"""Observability against real servers: a real Prometheus (Debian package) on a loopback port scrapes the
real services (a front and 2 engine processes each) and real VMs' metrics after real traffic, loads the recording
and alert rules, and answers every PromQL expression of the Grafana dashboard and of the rules through
its HTTP API — each must return data. Every metric the dashboard names must be one that is exported."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

from support import MODELS, ROOT, free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULES = ROOT / "deploy" / "prometheus" / "bioxen-rules.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "bioxen-dashboard.json"
#: the dashboard variables, as Grafana would substitute them with "All" selected
VARIABLES = {"$namespace": ".*", "$service": ".*", "$__rate_interval": "30s"}
ALERT_EXPR = re.compile(r"^(?P<lhs>.+?)\s*(?P<op>[<>]=?|==|!=)\s*(?P<threshold>-?[0-9.]+)$", re.S)
METRIC_NAME = re.compile(r"\b(bioxen(?:_vm)?:[a-z0-9_:]+|bioxen(?:_vm)?_[a-z_]+)\b")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[tuple[str, str]]:
    return [(f"{panel['title']} / {target['refId']}", target["expr"])
            for panel in dashboard()["panels"] for target in panel.get("targets", [])]


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def rule_exprs() -> list[tuple[str, str]]:
    """Recording rules as written; alert rules as the left-hand side of their threshold comparison."""
    out = []
    for rule in rules():
        if "record" in rule:
            out.append((rule["record"], rule["expr"]))
        else:
            m = ALERT_EXPR.match(rule["expr"].strip())
            assert m, f"alert {rule['alert']}: write its expr as '<expression> <op> <threshold>'"
            out.append((f"{rule['alert']} (lhs)", m.group("lhs")))
    return out


def is_vm_expr(expr: str) -> bool:
    return "bioxen_vm" in expr


# -- static checks (no servers) -----------------------------------------------------------------------
def test_promtool_checks_the_rules():
    if not Path(PROMTOOL).exists():
        pytest.skip("promtool is not installed: run `make tools` (Debian package prometheus)")
    proc = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules())} rules found" in proc.stdout


def test_dashboard_json_is_generated_from_its_builder():
    proc = subprocess.run([sys.executable, str(DASHBOARD.with_name("build_dashboard.py")), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_dashboard_has_stable_uid_datasource_variable_and_the_required_panels():
    board = dashboard()
    assert board["uid"] == "bioxen-services"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
    exprs = " ".join(e for _, e in dashboard_exprs())
    for needle in ("rate(bioxen_http_requests_total", 'status=~"5..', "histogram_quantile(0.5,",
                   "histogram_quantile(0.95,", "histogram_quantile(0.99,", "bioxen_computations_total",
                   "bioxen_computation_duration_seconds_bucket", 'kind="dfba"', "bioxen_model_cache_hits_total",
                   "bioxen_http_requests_in_flight", "count by (service) (bioxen_ready", "bioxen_vm_fallbacks_total"):
        assert needle in exprs, f"the dashboard lacks {needle}"
    latency = next(p for p in panels if p["title"].startswith("Latency"))
    assert all("service, endpoint, le" in t["expr"] for t in latency["targets"])


# -- live: real Prometheus, real services, real VMs ----------------------------------------------------
def _post(url: str, body: dict, expect: int = 200, **kwargs) -> dict:
    resp = requests.post(url, json=body, timeout=120, **kwargs)
    assert resp.status_code == expect, f"{url}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


def drive_service_traffic(static_url: str, dynamic_url: str) -> None:
    """Every computation kind the dashboard shows, an inline model twice (cache miss then hit), and bad
    requests (4xx), on both services."""
    ecoli = {"model": {"id": "e_coli_core"}}
    _post(f"{static_url}/v1/fba", ecoli)
    _post(f"{static_url}/v1/fba", {**ecoli, "method": "pfba"})
    _post(f"{static_url}/v1/fva", {**ecoli, "reactions": ["PGI", "PFK"]})
    _post(f"{static_url}/v1/knockouts", {**ecoli, "genes": ["b1723", "b3916"]})
    _post(f"{static_url}/v1/dfba", {**ecoli, "biomass": 0.05, "concentrations": {"EX_glc__D_e": 10.0},
                                    "uptake": {"EX_glc__D_e": {"vmax": 10.0, "km": 0.015}}, "end": 2.0, "points": 5})
    _post(f"{static_url}/compute/metabolic", {"chassis_type": "ecoli"})
    # a copy that differs from the shipped file (so its sha256 is new): a miss, then a hit
    sbml = MODELS["e_coli_core"].read_text().replace("</sbml>", "<!-- bioxen observability test -->\n</sbml>")
    for _ in range(2):
        _post(f"{static_url}/v1/fba", {"model": {"sbml": sbml}})
    _post(f"{static_url}/v1/fba", {"model": {"id": "no_such_model"}}, expect=404)
    bad = requests.post(f"{static_url}/v1/fba", data=b"{not json", timeout=10,
                        headers={"Content-Type": "application/json"})
    assert bad.status_code == 400

    program = {"model": {"id": "gene_expression"}}
    _post(f"{dynamic_url}/v1/simulate", {**program, "end": 10, "points": 11})
    _post(f"{dynamic_url}/v1/steady-state", program)
    params = requests.get(f"{dynamic_url}/v1/models/gene_expression", timeout=30).json()["parameters"]
    first_param = sorted(params)[0]
    _post(f"{dynamic_url}/v1/scan", {**program, "end": 5, "points": 6, "grid": {first_param: [0.5, 1.0]}})
    _post(f"{dynamic_url}/compute/kinetic", {"time_end": 5, "time_points": 6})
    gz = gzip.compress(json.dumps(program | {"points": 3}).encode())
    requests.post(f"{dynamic_url}/v1/simulate", data=gz, timeout=30,
                  headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    _post(f"{dynamic_url}/v1/simulate", {**program, "end": -1}, expect=400)


class VMExporter:
    """The VM side's own registry served on loopback, fed by real VMs run in threads (not the main
    thread, so the runner leaves pytest's signal handlers alone): one against the live services, one
    against a closed port (it falls back, counting bioxen_vm_fallbacks_total)."""

    def __init__(self):
        self.metrics = pytest.importorskip("bioxen_vm.metrics", reason="bioxen_vm.metrics not written yet")
        self.runner = pytest.importorskip("bioxen_vm.runner", reason="bioxen_vm.runner not written yet")
        self.port = free_port()
        self.server = None

    def start(self, static_url: str, dynamic_url: str) -> None:
        served = self.metrics.serve(self.port, addr="127.0.0.1")
        self.server = served[0] if isinstance(served, tuple) else served
        dead = f"http://127.0.0.1:{free_port()}"
        errors: list[BaseException] = []

        def run(vm_id, static, dynamic):
            try:
                self.runner.run_vm(vm_id, "ecoli", "basic", interval=0, iterations=2,
                                   static_url=static, dynamic_url=dynamic)
            except BaseException as exc:  # reported by the test below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=("obs_vm_1", static_url, dynamic_url)),
                   threading.Thread(target=run, args=("obs_vm_down", dead, dead))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not errors, errors

    def names(self) -> set[str]:
        return {s.name for family in self.metrics.REGISTRY.collect() for s in family.samples}

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(scope="module")
def vm_exporter(static_url, dynamic_url):
    try:
        exporter = VMExporter()
    except pytest.skip.Exception as exc:
        yield exc  # the VM-side expressions skip with this reason
        return
    exporter.start(static_url, dynamic_url)
    yield exporter
    exporter.stop()


@pytest.fixture(scope="module")
def job_side():
    """A static replica with the job layer, its worker and their redis-server: what the job panels and
    alerts read (the queue length from the replica, chunk metrics from the worker)."""
    sys.path.insert(0, str(ROOT / "tests" / "jobs"))
    from jobs_support import RedisServer, WorkerProcess

    from support import ServiceProcess

    redis_server = RedisServer().start()
    try:
        with ServiceProcess("static", env={"BIOXEN_REDIS_URL": redis_server.url}, preload="e_coli_core") as front, \
                WorkerProcess("static", redis_server.url, preload="e_coli_core") as worker:
            yield front, worker
    finally:
        redis_server.stop()


def drive_job_traffic(front) -> None:
    """One chunked FVA job, run to its end by the worker."""
    resp = requests.post(f"{front.url}/v1/jobs", json={"kind": "fva", "chunk_size": 32,
                                                        "request": {"model": {"id": "e_coli_core"}}}, timeout=60)
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 120
    while requests.get(front.url + resp.headers["Location"], timeout=10).json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def prometheus(static_service, dynamic_service, vm_exporter, job_side):
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus is not installed: run `make tools` (Debian package prometheus)")
    workdir = Path(tempfile.mkdtemp(prefix="bioxen-prometheus-"))
    # the rules as shipped, evaluated every second instead of every 30 s so the test need not wait
    shipped = yaml.safe_load(RULES.read_text())
    for group in shipped["groups"]:
        group["interval"] = "1s"
    (workdir / "rules.yaml").write_text(yaml.safe_dump(shipped))
    targets = [("bioxen-static", f"{static_service.host}:{static_service.port}"),
               ("bioxen-dynamic", f"{dynamic_service.host}:{dynamic_service.port}")]
    if isinstance(vm_exporter, VMExporter):
        targets.append(("bioxen-vm", f"127.0.0.1:{vm_exporter.port}"))
    front, worker = job_side
    targets += [("bioxen-static-jobs", f"{front.host}:{front.port}"),
                ("bioxen-static-worker", f"127.0.0.1:{worker.metrics_port}")]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
              "rule_files": [str(workdir / "rules.yaml")],
              "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                                 for job, target in targets]}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(workdir / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}",
                             f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (workdir / "prometheus.log").read_text()[-2000:]
            try:
                if requests.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
        wait_for(url, "up", lambda result: len(result) == len(targets) and all(r["value"][1] == "1" for r in result))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def query(url: str, expr: str) -> list[dict]:
    resp = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success", f"{expr}: {body.get('error')}"
    return body["data"]["result"]


def wait_for(url: str, expr: str, ok=bool, timeout: float = 60.0) -> list[dict]:
    """Polls until ``ok(result)``; returns the last result (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        result = query(url, expr)
        if ok(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.fixture(scope="module")
def scraped(prometheus, static_url, dynamic_url, job_side):
    """Traffic sent after Prometheus has started scraping, then scraped at least twice more."""
    drive_service_traffic(static_url, dynamic_url)
    drive_job_traffic(job_side[0])
    # the last counter the traffic touched, scraped three times since: every rate() window holds it
    seen = wait_for(prometheus, 'count_over_time(bioxen_computations_total{kind="dfba"}[1m]) >= 3')
    assert seen, "prometheus never scraped the traffic"
    return prometheus


LIVE = dashboard_exprs() + rule_exprs()


@pytest.mark.slow
@pytest.mark.parametrize("name, expr", LIVE, ids=[n for n, _ in LIVE])
def test_expression_returns_data(scraped, vm_exporter, name, expr):
    if is_vm_expr(expr) and not isinstance(vm_exporter, VMExporter):
        pytest.skip(f"VM-side expression: {vm_exporter}")
    result = wait_for(scraped, substitute(expr), timeout=30)
    assert result, f"{name}: no data for {substitute(expr)}"


@pytest.mark.slow
def test_replica_count_counts_the_scraped_pods(scraped):
    result = {r["metric"]["service"]: float(r["value"][1]) for r in query(scraped, "count by (service) (bioxen_ready)")}
    # static: the shared replica and the job test's replica (its job worker is no replica); engines aggregated
    assert result == {"static": 2.0, "dynamic": 1.0}
    ready = {r["metric"]["service"]: float(r["value"][1]) for r in query(scraped, "bioxen:ready_replicas")}
    assert ready == {"static": 2.0, "dynamic": 1.0}


@pytest.mark.slow
def test_error_ratio_counts_the_bad_requests(scraped):
    client_errors = query(scraped, substitute(
        'sum by (service) (increase(bioxen_http_requests_total{status=~"4.."}[5m]))'))
    assert {r["metric"]["service"] for r in client_errors} == {"static", "dynamic"}
    five = {r["metric"]["service"]: float(r["value"][1]) for r in query(scraped, "bioxen:http_5xx:ratio_rate5m")}
    assert set(five) == {"static", "dynamic"} and all(v == 0.0 for v in five.values()), five


@pytest.mark.slow
def test_vm_fallbacks_are_seen(scraped, vm_exporter):
    if not isinstance(vm_exporter, VMExporter):
        pytest.skip(str(vm_exporter))
    result = wait_for(scraped, 'bioxen_vm_fallbacks_total{vm_id="obs_vm_down"}')
    assert result and float(result[0]["value"][1]) > 0
    ok = wait_for(scraped, 'bioxen_vm_computations_total{vm_id="obs_vm_1", outcome="success"}')
    assert ok and float(ok[0]["value"][1]) > 0


@pytest.mark.slow
def test_every_dashboard_metric_is_exported(scraped, static_url, dynamic_url, vm_exporter, job_side):
    exported = set()
    front, worker = job_side
    for url in (static_url, dynamic_url, front.url, f"http://127.0.0.1:{worker.metrics_port}"):
        text = requests.get(f"{url}/metrics", timeout=10).text
        exported |= {line.split("{")[0].split()[0] for line in text.splitlines() if line and not line.startswith("#")}
    recorded = {r["record"] for r in rules() if "record" in r}
    used = {name for _, expr in dashboard_exprs() for name in METRIC_NAME.findall(expr)}
    vm_used = {n for n in used if n.startswith("bioxen_vm")}
    if isinstance(vm_exporter, VMExporter):
        exported |= vm_exporter.names()
    else:
        used -= vm_used
    unknown = sorted(n for n in used if n not in exported and n not in recorded)
    assert not unknown, f"dashboard metrics nobody exports: {unknown}"
    rule_used = {name for r in rules() for name in METRIC_NAME.findall(r["expr"])}
    if not isinstance(vm_exporter, VMExporter):
        rule_used = {n for n in rule_used if not n.startswith("bioxen_vm")}
    assert not sorted(n for n in rule_used if n not in exported and n not in recorded)
