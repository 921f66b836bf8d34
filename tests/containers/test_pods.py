"""The chart's own pod settings, applied by a real container engine to the real images: each Deployment's
container started from the rendered manifest (see kubelet.py) must become ready on its rendered probes,
run as the rendered user without capabilities on a read-only root, inside its memory and CPU limits, read
every environment variable the chart gives it, and honour the token the chart's Secret mounts."""

from __future__ import annotations

import json

import pytest
import requests

from containers_support import TOKEN, image_facts, record_facts
from kubelet import cpu_cores, docker, env_pairs, memory_bytes, object_data, security

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

COMPONENTS = ("static", "dynamic", "vm")
# What a process inside sees: its ids, capabilities, whether / and the mounts are writable, its cgroup limits.
INSIDE = r"""
import json, os, sys
def status(key):
    for line in open('/proc/1/status'):
        if line.startswith(key + ':'):
            return line.split()[1]
def writable(path):
    try:
        with open(os.path.join(path, '.write-probe'), 'w'):
            pass
        os.unlink(os.path.join(path, '.write-probe'))
        return True
    except OSError:
        return False
def read(*paths):
    for p in paths:
        try:
            return open(p).read().strip()
        except OSError:
            pass
files, dirs = {}, {}
for p in sys.argv[1:]:
    dirs[p] = writable(p if os.path.isdir(p) else os.path.dirname(p))
    try:
        files[p] = sorted(os.listdir(p)) if os.path.isdir(p) else open(p).read()
    except OSError as exc:
        files[p] = 'error: ' + exc.strerror
print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': sorted(os.getgroups()),
    'pid1_uid': int(status('Uid')), 'cap_eff': status('CapEff'), 'cap_bnd': status('CapBnd'),
    'no_new_privs': status('NoNewPrivs'), 'root_writable': writable('/'),
    'memory_limit': read('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'),
    'cpu_quota': read('/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'),
    'cpu_period': read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'), 'files': files, 'writable': dirs,
    'mounts': {l.split()[1]: l.split()[3] for l in open('/proc/mounts')}}))
"""


def one_of(cluster, component):
    return cluster.vms[0] if component == "vm" else cluster.replicas(component)[0]


def inside(container, *paths) -> dict:
    return json.loads(docker("exec", container.name, "python", "-c", INSIDE, *paths).stdout)


def test_every_image_the_chart_names_is_built(images, cluster_objects):
    """Every image of the project's own the chart names (the job workers run their engine's image; the
    chart's Redis is a third-party image, pulled by the cluster, not built here)."""
    wanted = {c["image"] for o in cluster_objects if o["kind"] in ("Deployment", "Pod")
              and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "redis"
              for c in (o["spec"]["template"]["spec"] if o["kind"] == "Deployment" else o["spec"])["containers"]}
    assert len(wanted) == 3, wanted
    for image in wanted:
        assert docker("image", "inspect", image, check=False).returncode == 0, f"{image} was not built"


@pytest.mark.parametrize("component", COMPONENTS)
def test_containers_become_ready_on_their_rendered_probes(cluster, component):
    container = one_of(cluster, component)
    probes = container.probes_pass(container.network)
    assert probes and all(probes.values()), probes
    assert {"readinessProbe", "livenessProbe"} <= set(probes)


@pytest.mark.parametrize("component", COMPONENTS)
def test_security_context_resources_and_mounts_hold_inside(cluster, component):
    container = one_of(cluster, component)
    sc = security(container.pod, container.spec)
    mounts = {m["mountPath"]: m for m in container.spec["volumeMounts"]}
    env = dict(env_pairs(container.pod, container.spec))
    token_file = env["BIOXEN_API_TOKEN_FILE"]
    seen = inside(container, token_file, *([env["PROMETHEUS_MULTIPROC_DIR"]] if component != "vm" else []))
    assert seen["uid"] == seen["pid1_uid"] == sc["runAsUser"] and seen["gid"] == sc["runAsGroup"]
    assert container.pod.spec["securityContext"]["fsGroup"] in seen["groups"]
    assert sc["capabilities"]["drop"] == ["ALL"] and int(seen["cap_eff"], 16) == 0 == int(seen["cap_bnd"], 16)
    assert sc["allowPrivilegeEscalation"] is False and seen["no_new_privs"] == "1"
    assert sc["readOnlyRootFilesystem"] and not seen["root_writable"]
    assert seen["mounts"]["/"].startswith("ro")
    # the emptyDir (tmpfs here) is the one writable path; the token Secret is a read-only file
    assert "/tmp" in mounts and seen["mounts"]["/tmp"].startswith("rw")
    assert seen["files"][token_file] == TOKEN
    assert seen["writable"] == {token_file: False, **({env["PROMETHEUS_MULTIPROC_DIR"]: True} if component != "vm" else {})}
    limits = container.spec["resources"]["limits"]
    assert int(seen["memory_limit"]) == memory_bytes(limits["memory"])
    quota = seen["cpu_quota"].split()[0]
    period = int(seen["cpu_quota"].split()[1]) if " " in seen["cpu_quota"] else int(seen["cpu_period"])
    assert int(quota) / period == pytest.approx(cpu_cores(limits["cpu"]))
    if component != "vm":  # the services write their metrics where the chart's env tells them
        assert any(f.endswith(".db") for f in seen["files"][env["PROMETHEUS_MULTIPROC_DIR"]]), seen["files"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_env_name_the_chart_sets_is_read_by_the_image(cluster, component):
    """A variable the image's code never names is a chart/image drift (a renamed setting does nothing).
    Names count as read when the installed code spells them out, or when they are the services' settings
    (``Settings`` fields read as ``BIOXEN_<FIELD>``)."""
    container = one_of(cluster, component)
    names = sorted({name for name, _ in env_pairs(container.pod, container.spec)})
    finder = ("import dataclasses, os, sys, site\n"
              "names = set(sys.argv[1:]); found = set()\n"
              "try:\n"
              "    from bioxen_services.settings import Settings\n"
              "    found |= names & {'BIOXEN_' + f.name.upper() for f in dataclasses.fields(Settings)}\n"
              "except ImportError:\n"
              "    pass\n"
              "roots = ['/opt/bioxen/app'] + site.getsitepackages()\n"
              "for root in roots:\n"
              "    for d, _, fs in os.walk(root):\n"
              "        for f in fs:\n"
              "            if f.endswith('.py'):\n"
              "                text = open(os.path.join(d, f), errors='replace').read()\n"
              "                found |= {n for n in names - found if n in text}\n"
              "print('\\n'.join(sorted(names - found)))")
    unread = docker("run", "--rm", "--network", "none", "--entrypoint", "python", container.spec["image"],
                    "-c", finder, *names, timeout=300).stdout.split()
    assert names and not unread, f"{container.spec['name']}: the chart sets {unread}, which nothing in the image reads"


@pytest.mark.parametrize("component, path, body, check", [
    ("static", "/v1/fba", {"model": {"id": "e_coli_core"}},
     lambda r: r["objective_value"] == pytest.approx(0.873922, abs=1e-6)),
    ("dynamic", "/v1/simulate", {"model": {"id": "gene_expression"}, "start": 0, "end": 10, "points": 100},
     lambda r: len(r["time"]) == 100),
])
def test_compute_needs_the_token_from_the_rendered_secret(cluster, component, path, body, check):
    container = one_of(cluster, component)
    volume = next(v for v in container.pod.spec["volumes"] if "secret" in v)
    token = object_data(cluster.objects, "Secret", volume["secret"]["secretName"])[volume["secret"]["items"][0]["key"]].decode()
    url = container.url(container.network, "http") + path
    assert requests.post(url, json=body, timeout=30).status_code == 401
    answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    assert check(answer.json())


@pytest.mark.parametrize("component", ["static", "dynamic"])
def test_the_image_serves_the_docs_page_without_the_token(cluster, component):
    """/docs and the Swagger UI it loads come from the image's own packages (no CDN), open like /openapi.json."""
    container = one_of(cluster, component)
    url = container.url(container.network, "http")
    page = requests.get(url + "/docs", timeout=30)
    assert page.status_code == 200 and "/docs/swagger-ui-bundle.js" in page.text, page.text[:300]
    bundle = requests.get(url + "/docs/swagger-ui-bundle.js", timeout=30)
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert requests.get(url + "/openapi.json", timeout=30).status_code == 200


@pytest.mark.parametrize("component", COMPONENTS)
def test_image_facts(cluster, component):
    container = one_of(cluster, component)
    facts = image_facts(container.spec["image"], component)
    sc = security(container.pod, container.spec)
    assert facts["user"] == f"{sc['runAsUser']}:{sc['runAsGroup']}", "the image's USER differs from the chart's"
    assert facts["python"].startswith("3.11."), facts
    record_facts({component: facts})
