"""The Helm chart, rendered by the real Helm: lint, Kubernetes schema validation, and its wiring —
selectors, autoscaler targets, probes against the Flask app's routes, Service names against the
client's DNS names, security contexts and the values toggles. No cluster is involved (none exists on
the development machines); the kind end-to-end test in tests/kind/ installs the same chart for real."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from chart_support import (CHART, CI_VALUES, NAMESPACE, RELEASE, by_kind, helm, load_values, named, pod_specs,
                           render, render_text)
from support import ROOT

OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}  # CRDs: no upstream schema
SERVICES = ("static", "dynamic")
SCENARIOS = [()] + [(str(p),) for p in CI_VALUES]
SCENARIO_IDS = ["defaults"] + [p.name for p in CI_VALUES]


def _labels_match(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _container(spec: dict, name: str | None = None) -> dict:
    containers = spec["containers"]
    if name is None:
        assert len(containers) == 1
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def _env(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


# -- lint and schemas -------------------------------------------------------------------------------
@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_helm_lint_passes(values):
    args = ["lint", str(CHART), "--strict"]
    for path in values:
        args += ["-f", path]
    proc = helm(*args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("version", ["1.29.0", latest_version()])
@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_every_object_validates_strictly(values, version):
    objects = render(values)
    assert objects
    for obj in objects:
        if obj["kind"] in OPERATOR_KINDS:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} against {version}: {exc.message} "
                        f"at {list(exc.path)}")


def test_values_schema_rejects_latest_tag_and_unknown_keys():
    latest = helm("template", RELEASE, str(CHART), "--set", "static.image.tag=latest", check=False)
    assert latest.returncode != 0 and "/static/image/tag" in latest.stderr
    unknown = helm("template", RELEASE, str(CHART), "--set", "dynamic.replicas=3", check=False)
    assert unknown.returncode != 0 and "replicas" in unknown.stderr


def test_every_value_has_a_comment():
    """Each leaf value in values.yaml has a comment line right above it (pass-through blocks such as
    resources, probes and HPA behavior are described once, on their parent)."""
    opaque = {"resources", "behavior", "instances", "startup", "readiness", "liveness", "podSelector",
              "matchLabels", "requests", "limits", "scaleUp", "scaleDown", "policies"}
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str]] = []
    missing = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z][\w.-]*):(.*)$", line)
        if not m:
            continue
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3).strip()
        stack = [(d, k) for d, k in stack if d < indent]
        inside_opaque = any(k in opaque for _, k in stack)
        stack.append((indent, key))
        is_leaf = rest != "" and not rest.startswith("#")
        if inside_opaque or not (is_leaf or key in opaque):
            continue
        previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        if not previous.startswith("#"):
            missing.append(f"line {i + 1}: {key}")
    assert not missing, f"values without a comment: {missing}"


# -- wiring -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_selectors_match_pod_labels(values):
    objects = render(values)
    deployments = by_kind(objects, "Deployment")
    for dep in deployments:
        selector = dep["spec"]["selector"]["matchLabels"]
        assert _labels_match(selector, dep["spec"]["template"]["metadata"]["labels"]), dep["metadata"]["name"]
        others = [d for d in deployments if d is not dep]
        assert not any(_labels_match(selector, d["spec"]["template"]["metadata"]["labels"]) for d in others), \
            f"{dep['metadata']['name']}'s selector also matches another Deployment's pods"
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in by_kind(objects, kind):
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            targets = [d for d in deployments
                       if _labels_match(selector, d["spec"]["template"]["metadata"]["labels"])]
            assert len(targets) == 1, f"{kind}/{obj['metadata']['name']} selects {len(targets)} Deployments"


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_each_hpa_targets_an_existing_deployment_without_fixed_replicas(values):
    objects = render(values)
    deployments = {d["metadata"]["name"]: d for d in by_kind(objects, "Deployment")}
    hpas = by_kind(objects, "HorizontalPodAutoscaler")
    for hpa in hpas:
        ref = hpa["spec"]["scaleTargetRef"]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
        assert ref["name"] in deployments, f"HPA {hpa['metadata']['name']} targets missing {ref['name']}"
        assert "replicas" not in deployments[ref["name"]]["spec"], "replicas must be omitted under an HPA"
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        metrics = hpa["spec"]["metrics"]
        if ref["name"].endswith("-worker"):  # job workers scale on their queue, not on CPU
            engine = ref["name"][len(RELEASE) + 1:-len("-worker")]
            assert [m["external"]["metric"] for m in metrics] == [
                {"name": "bioxen_job_queue_length", "selector": {"matchLabels": {"service": engine}}}]
            continue
        assert metrics[0]["resource"]["name"] == "cpu"
        assert "behavior" in hpa["spec"]
        containers = deployments[ref["name"]]["spec"]["template"]["spec"]["containers"]
        assert all("cpu" in c["resources"]["requests"] for c in containers), "CPU utilization needs requests"


def test_service_names_follow_the_naming_contract(objects):
    services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
    for svc in SERVICES:
        headless, api = services[f"{RELEASE}-{svc}"], services[f"{RELEASE}-{svc}-api"]
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["publishNotReadyAddresses"] is False
        assert api["spec"]["type"] == "ClusterIP" and "clusterIP" not in api["spec"]
        for s in (headless, api):
            assert [(p["port"], p["targetPort"]) for p in s["spec"]["ports"]] == [(8000, "http")]


def test_release_name_changes_every_service_name():
    names = {s["metadata"]["name"] for s in by_kind(render(release="lab"), "Service")}
    assert names == {"lab-static", "lab-dynamic", "lab-static-api", "lab-dynamic-api", "lab-redis"}


def test_client_default_dns_names_equal_the_chart_service_names(objects):
    from bioxen_vm.settings import ClientSettings

    settings = ClientSettings.from_env({"POD_NAMESPACE": NAMESPACE})
    services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
    for svc in SERVICES:
        host = settings.hostname(svc)
        name, namespace = host.split(".")[:2]
        assert name in services and services[name]["spec"]["clusterIP"] == "None", host
        assert namespace == services[name]["metadata"]["namespace"]
        assert settings.service_port == services[name]["spec"]["ports"][0]["port"]
    # and the VM pods hand the client the release the Services were named after
    for dep in [d for d in by_kind(objects, "Deployment") if "-vm-" in d["metadata"]["name"]]:
        env = _env(_container(dep["spec"]["template"]["spec"]))
        assert env["BIOXEN_RELEASE"]["value"] == RELEASE
        assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
        assert int(env["BIOXEN_SERVICE_PORT"]["value"]) == settings.service_port


@pytest.fixture(scope="module")
def url_maps():
    from bioxen_services.app import create_app
    from bioxen_services.settings import Settings

    maps = {}
    for svc in SERVICES:
        app = create_app(svc, Settings.from_env(preload="none"))
        maps[svc] = {rule.rule: rule.methods for rule in app.url_map.iter_rules()}
    return maps


def test_probe_paths_exist_in_the_app_and_ports_match(objects, url_maps):
    for svc in SERVICES:
        dep = named(objects, "Deployment", f"{RELEASE}-{svc}")
        container = _container(dep["spec"]["template"]["spec"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        args = container["args"]
        assert int(args[args.index("--port") + 1]) == ports["http"] == 8000
        probes = {k: container[k]["httpGet"] for k in ("startupProbe", "readinessProbe", "livenessProbe")}
        assert probes["livenessProbe"]["path"] == "/healthz"
        assert probes["readinessProbe"]["path"] == probes["startupProbe"]["path"] == "/readyz"
        for probe in probes.values():
            assert probe["path"] in url_maps[svc] and "GET" in url_maps[svc][probe["path"]]
            assert ports[probe["port"]] == ports["http"]
        annotations = dep["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] in url_maps[svc]
        assert int(annotations["prometheus.io/port"]) == ports["http"]
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "iMM904 needs a generous budget"


def test_graceful_shutdown_budget(objects):
    from bioxen_services.settings import Settings

    for svc in SERVICES:
        spec = named(objects, "Deployment", f"{RELEASE}-{svc}")["spec"]["template"]["spec"]
        container = _container(spec)
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep"
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        budget = float(env.get("BIOXEN_REQUEST_TIMEOUT_SECONDS") or Settings.request_timeout_seconds)
        # preStop sleep, then the front's drain (requests in flight end by their deadline; + 5 s, server.py)
        assert spec["terminationGracePeriodSeconds"] > int(command[1]) + budget + 5


@pytest.mark.parametrize("cpu, engines", [("250m", "1"), ("1", "1"), ("1500m", "2"), ("2", "2"), ("3", "3")])
def test_engines_derive_from_the_cpu_request(cpu, engines):
    dep = named(render(sets=(f"static.resources.requests.cpu={cpu}",)), "Deployment", f"{RELEASE}-static")
    args = _container(dep["spec"]["template"]["spec"])["args"]
    assert args[args.index("--engines") + 1] == engines


def test_explicit_engines_win(full_objects):
    args = _container(named(full_objects, "Deployment", f"{RELEASE}-static")["spec"]["template"]["spec"])["args"]
    assert args[args.index("--engines") + 1] == "3"


#: memory of a replica besides its engines' own growth: the front and the template holding every shipped
#: model (measured: static ~0.8 GiB with iMM904, dynamic ~0.3 GiB), rounded up
BASELINE_MIB = {"static": 1024, "dynamic": 384}


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 ** 2}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[:-2]) * factor
    return float(quantity) / 2**20


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_memory_limit_holds_the_template_and_every_engine_allowance(values):
    """The pod's memory limit must cover the baseline plus each engine's allowance (BIOXEN_ENGINE_MEMORY_BYTES,
    past which the front kills an engine): else the kernel's OOM killer, not the service, decides."""
    for svc in SERVICES:
        try:
            dep = named(render(values), "Deployment", f"{RELEASE}-{svc}")
        except (KeyError, StopIteration, AssertionError):
            continue
        container = _container(dep["spec"]["template"]["spec"])
        args = container["args"]
        engines = int(args[args.index("--engines") + 1])
        env = {e["name"]: e.get("value") for e in container["env"]}
        allowance = int(env["BIOXEN_ENGINE_MEMORY_BYTES"]) / 2**20
        limit = _mebibytes(container["resources"]["limits"]["memory"])
        assert limit >= BASELINE_MIB[svc] + engines * allowance, (svc, limit, engines, allowance)


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_restricted_security_context_and_only_tmp_writable(values):
    for name, spec in pod_specs(render(values)):
        assert spec["automountServiceAccountToken"] is False, name
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True and pod_ctx["seccompProfile"]["type"] == "RuntimeDefault"
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        token = volumes.pop("api-token", None)  # the read-only token Secret, when auth is on
        assert token is None or set(token) == {"name", "secret"}, name
        assert all(set(v) == {"name", "emptyDir"} for v in volumes.values()), f"{name}: only emptyDirs"
        for c in spec["containers"]:
            ctx = c["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False and ctx["privileged"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"] and "add" not in ctx["capabilities"]
            assert isinstance(ctx["runAsUser"], int) and ctx["runAsUser"] >= 10000
            assert not re.search(r":latest$", c["image"]) and (":" in c["image"] or "@" in c["image"])
            writable = [m["mountPath"] for m in c.get("volumeMounts", []) if not m.get("readOnly")]
            assert writable == ["/tmp"], f"{name}: writable paths {writable}"
            args = c.get("args", [])
            if "--metrics-dir" in args:
                metrics_dir = args[args.index("--metrics-dir") + 1]
                assert metrics_dir.startswith("/tmp/")
                assert _env(c)["PROMETHEUS_MULTIPROC_DIR"]["value"] == metrics_dir


def test_vm_pods_run_the_configured_instances(objects):
    vms = [d for d in by_kind(objects, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == "vm"]
    expected = {(i["id"], i["type"]) for i in load_values()["vms"]["instances"]}
    found = set()
    for dep in vms:
        args = _container(dep["spec"]["template"]["spec"])["args"]
        assert args[:2] == ["vm", "run"] and args[args.index("--metrics-port") + 1] == "9100"
        found.add((args[args.index("--id") + 1], args[args.index("--type") + 1]))
        assert dep["spec"]["replicas"] == 1
    assert found == expected == {("ecoli_vm_1", "ecoli"), ("ecoli_vm_2", "ecoli"), ("yeast_vm_1", "yeast")}


def test_helm_test_pod_calls_both_services_by_dns_name(objects):
    pod = named(objects, "Pod", f"{RELEASE}-test-services")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = _container(pod["spec"])
    vm_image = _container(named(objects, "Deployment", f"{RELEASE}-vm-ecoli-vm-1")["spec"]["template"]["spec"])["image"]
    assert container["image"] == vm_image  # the project's own client image
    args = container["args"]
    assert args[0] == "health"
    services = {s["metadata"]["name"] for s in by_kind(objects, "Service")}
    for svc in SERVICES:
        url = args[args.index(f"--{svc}-url") + 1]
        m = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url)
        assert m and m.group(1) in services and m.group(1) == f"{RELEASE}-{svc}-api" and m.group(2) == "8000"


def test_helm_test_pod_command_parses_with_the_cli(objects):
    from bioxen_vm.cli import build_parser

    pod = named(objects, "Pod", f"{RELEASE}-test-services")
    args = build_parser().parse_args(_container(pod["spec"])["args"])
    assert args.static_url == f"http://{RELEASE}-static-api:8000"


# -- toggles ----------------------------------------------------------------------------------------
def test_defaults_render_no_operator_objects(objects):
    assert not [o for o in objects if o["kind"] in OPERATOR_KINDS]
    assert not by_kind(objects, "Secret")


def test_service_monitor_on_renders_monitors_with_extra_labels(full_objects):
    monitor = named(full_objects, "ServiceMonitor", RELEASE)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    selected = [s for s in by_kind(full_objects, "Service")
                if _labels_match(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    # one Service per engine, so each pod is scraped once
    assert sorted(s["metadata"]["name"] for s in selected) == [f"{RELEASE}-dynamic", f"{RELEASE}-static"]
    pod_monitor = named(full_objects, "PodMonitor", f"{RELEASE}-vms")
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"


def _files_like(content: bytes) -> list[Path]:
    """Files of the checkout (no hidden folders, no links) whose bytes equal ``content``."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in files:
            path = Path(folder) / name
            if (not path.is_symlink() and path.stat().st_size == len(content)
                    and path.read_bytes() == content):
                found.append(path.relative_to(ROOT))
    return found


@pytest.mark.parametrize("in_chart, in_deploy", [("dashboards/bioxen.json", "grafana/bioxen-dashboard.json"),
                                                 ("rules/bioxen-rules.yaml", "prometheus/bioxen-rules.yaml")])
def test_the_dashboard_and_the_rules_live_in_one_place(in_chart, in_deploy):
    """deploy/ holds them; the chart links to them (Helm's Files.Get follows the link), and no file
    anywhere else repeats them byte for byte."""
    link, shipped = CHART / in_chart, ROOT / "deploy" / in_deploy
    assert link.is_symlink() and link.resolve() == shipped.resolve()
    assert _files_like(shipped.read_bytes()) == [shipped.relative_to(ROOT)]


def test_prometheus_rule_carries_the_rules_file(full_objects):
    rule = named(full_objects, "PrometheusRule", RELEASE)
    assert rule["spec"] == yaml.safe_load((ROOT / "deploy" / "prometheus" / "bioxen-rules.yaml").read_text())


def test_autoscaling_off_sets_replicas_and_drops_hpa_pdb_netpol(minimal_objects):
    assert not by_kind(minimal_objects, "HorizontalPodAutoscaler")
    assert not by_kind(minimal_objects, "PodDisruptionBudget")
    assert not by_kind(minimal_objects, "NetworkPolicy")
    assert named(minimal_objects, "Deployment", f"{RELEASE}-static")["spec"]["replicas"] == 3
    assert named(minimal_objects, "Deployment", f"{RELEASE}-dynamic")["spec"]["replicas"] == 1
    assert named(minimal_objects, "Deployment", f"{RELEASE}-static-worker")["spec"]["replicas"] == 2
    assert not [d for d in by_kind(minimal_objects, "Deployment") if "-vm-" in d["metadata"]["name"]]


def test_requests_in_flight_metric_is_optional(objects, full_objects):
    for objs, expected in ((objects, ["Resource"]), (full_objects, ["Resource", "Pods"])):
        for hpa in by_kind(objs, "HorizontalPodAutoscaler"):
            if not hpa["metadata"]["name"].endswith("-worker"):  # the services' HPAs
                assert [m["type"] for m in hpa["spec"]["metrics"]] == expected
    pods_metric = by_kind(full_objects, "HorizontalPodAutoscaler")[0]["spec"]["metrics"][1]["pods"]
    assert pods_metric["metric"]["name"] == "bioxen_http_requests_in_flight"


def test_job_workers_and_services_share_one_redis(objects):
    """Per engine a worker Deployment running `bioxen worker <engine>` from the service's image, scaled
    on its queue; the services and workers find the chart's Redis through the same BIOXEN_REDIS_URL."""
    from bioxen_vm.cli import build_parser

    url = f"redis://{RELEASE}-redis:6379/0"
    redis_port = named(objects, "Service", f"{RELEASE}-redis")["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in redis_port] == [("redis", 6379)]
    for engine in SERVICES:
        service = _container(named(objects, "Deployment", f"{RELEASE}-{engine}")["spec"]["template"]["spec"])
        worker = _container(named(objects, "Deployment", f"{RELEASE}-{engine}-worker")["spec"]["template"]["spec"])
        assert worker["image"] == service["image"]
        assert _env(worker)["BIOXEN_REDIS_URL"]["value"] == _env(service)["BIOXEN_REDIS_URL"]["value"] == url
        args = build_parser().parse_args(worker["command"][1:] + worker["args"])
        assert (args.command, args.service) == ("worker", engine)
        port = {p["name"]: p["containerPort"] for p in worker["ports"]}["metrics"]
        assert args.rest[args.rest.index("--metrics-port") + 1] == str(port)
        assert worker["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        hpa = named(objects, "HorizontalPodAutoscaler", f"{RELEASE}-{engine}-worker")
        assert hpa["spec"]["metrics"][0]["external"]["metric"]["selector"]["matchLabels"] == {"service": engine}


def test_jobs_with_an_external_redis_or_off():
    external = render(sets=("jobs.redisUrl=redis://redis.shared:6379/3",))
    assert not [o for o in external if o["metadata"]["name"] == f"{RELEASE}-redis"]
    static = _container(named(external, "Deployment", f"{RELEASE}-static")["spec"]["template"]["spec"])
    assert _env(static)["BIOXEN_REDIS_URL"]["value"] == "redis://redis.shared:6379/3"
    off = render(sets=("jobs.enabled=false",))
    assert not [o for o in off if "worker" in o["metadata"]["name"] or o["metadata"]["name"].endswith("-redis")]
    static = _container(named(off, "Deployment", f"{RELEASE}-static")["spec"]["template"]["spec"])
    assert "BIOXEN_REDIS_URL" not in _env(static)


def test_network_policy_admits_only_clients_and_prometheus(objects):
    policy = named(objects, "NetworkPolicy", f"{RELEASE}-services")
    exprs = {e["key"]: e["values"] for e in policy["spec"]["podSelector"]["matchExpressions"]}
    assert sorted(exprs["app.kubernetes.io/component"]) == ["dynamic", "static"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    client_selector = rule["from"][0]["podSelector"]["matchLabels"]
    prometheus = rule["from"][1]
    assert prometheus["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    admitted = []
    for name, spec in pod_specs(objects):
        labels = (next(o for o in objects if o["metadata"]["name"] == name and o["kind"] in ("Deployment", "Pod")))
        labels = labels["spec"]["template"]["metadata"]["labels"] if labels["kind"] == "Deployment" \
            else labels["metadata"]["labels"]
        if _labels_match(client_selector, labels):
            admitted.append(labels["app.kubernetes.io/component"])
    # the VM pods and the helm test pod are admitted; the services themselves are not each other's clients
    assert sorted(set(admitted)) == ["test", "vm"]
    vm_policy = named(objects, "NetworkPolicy", f"{RELEASE}-vms")
    assert vm_policy["spec"]["ingress"][0]["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def test_auth_token_comes_from_a_secret_everywhere(full_objects, objects):
    secret = named(full_objects, "Secret", f"{RELEASE}-api-token")
    import base64

    assert base64.b64decode(secret["data"]["token"]).decode() == "ci-only-not-a-secret"
    for name, spec in pod_specs(full_objects):
        container = _container(spec)
        env = _env(container)
        assert "BIOXEN_API_TOKEN" not in env, name  # a file, never an environment value
        if name.endswith(("-worker", "-redis")):  # they serve no endpoint: no token
            assert "BIOXEN_API_TOKEN_FILE" not in env, name
            continue
        assert env["BIOXEN_API_TOKEN_FILE"]["value"] == "/var/run/secrets/bioxen/token", name
        mount = next(m for m in container["volumeMounts"] if m["name"] == "api-token")
        assert mount == {"name": "api-token", "mountPath": "/var/run/secrets/bioxen", "readOnly": True}, name
        volume = next(v for v in spec["volumes"] if v["name"] == "api-token")
        assert volume["secret"]["secretName"] == f"{RELEASE}-api-token", name
        assert volume["secret"]["items"] == [{"key": "token", "path": "token"}], name
    for name, spec in pod_specs(objects):
        assert not {"BIOXEN_API_TOKEN", "BIOXEN_API_TOKEN_FILE"} & set(_env(_container(spec))), name
        assert all(v["name"] != "api-token" for v in spec.get("volumes", [])), name


def test_auth_with_existing_secret_creates_none():
    objs = render(sets=("auth.enabled=true", "auth.existingSecret=my-token", "auth.secretKey=t"))
    assert not by_kind(objs, "Secret")
    spec = named(objs, "Deployment", f"{RELEASE}-static")["spec"]["template"]["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "api-token")
    assert volume["secret"]["secretName"] == "my-token"
    assert volume["secret"]["items"] == [{"key": "t", "path": "token"}]


def test_auth_without_a_token_fails_with_a_clear_message():
    proc = helm("template", RELEASE, str(CHART), "--set", "auth.enabled=true", check=False)
    assert proc.returncode != 0 and "auth.enabled needs auth.token" in proc.stderr


def test_dashboard_configmap_carries_the_dashboard_with_the_sidecar_label(objects):
    cm = named(objects, "ConfigMap", f"{RELEASE}-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((ROOT / "deploy" / "grafana" / "bioxen-dashboard.json").read_text())
    assert json.loads(cm["data"]["bioxen.json"]) == shipped


def test_notes_show_the_port_forward_demo_and_its_caveat():
    proc = helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client")
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert f"port-forward svc/{RELEASE}-static-api 8001:8000" in notes
    assert f"port-forward svc/{RELEASE}-dynamic-api 8002:8000" in notes
    assert "bioxen demo --static-url http://localhost:8001 --dynamic-url http://localhost:8002" in notes
    assert "ONE pod" in notes


def test_render_is_deterministic():
    """Rendering twice gives the same text (no random tokens or timestamps in the chart)."""
    render_text.cache_clear()
    first = render_text()
    render_text.cache_clear()
    assert render_text() == first
