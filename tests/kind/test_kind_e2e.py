"""The kind end-to-end run (deploy/kind/e2e.sh): a real cluster, the real images, helm install --wait,
helm test, the port-forward demo, VM pods computing, and the HPA scaling under load. It needs Docker (with
a reachable daemon) and kind, which the development machines lack: there it skips with the reason, and
the GitHub Actions workflow runs it. The checks below it need neither."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from support import ROOT

SCRIPT = ROOT / "deploy" / "kind" / "e2e.sh"


def missing_requirement() -> str | None:
    if not shutil.which("docker"):
        return "docker is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "docker info timed out (no reachable daemon)"
    if info.returncode != 0:
        return "the docker daemon is not reachable: " + " ".join((info.stderr or info.stdout).strip().splitlines()[-1:])
    if not shutil.which("kind"):
        return "kind is not installed"
    return None


@pytest.mark.kind
def test_kind_end_to_end():
    reason = missing_requirement()
    if reason:
        pytest.skip(f"{reason}: the kind end-to-end test needs Docker and kind (run `make kind-e2e` "
                    "where they exist; GitHub Actions runs it on every push)")
    env = {**os.environ, "PATH": f"{ROOT / '.tools' / 'bin'}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, timeout=3600)
    assert proc.returncode == 0, "deploy/kind/e2e.sh failed; its output above says at which step"


def test_e2e_script_is_valid_bash():
    proc = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", "-S", "warning", str(SCRIPT)], capture_output=True, text=True, timeout=60)
        assert lint.returncode == 0, lint.stdout


def test_e2e_script_covers_every_step():
    text = SCRIPT.read_text()
    for step in ("kind create cluster", "docker build", "kind load docker-image", "metrics-server",
                 "helm install", "--wait", "helm test", "port-forward", "bioxen demo --static-url http://localhost:8001",
                 "get hpa", "kind delete cluster", "trap cleanup EXIT"):
        assert step in text, f"e2e.sh lacks {step!r}"
    for image in ("static", "dynamic", "vm"):
        assert (ROOT / f"Dockerfile.{image}").is_file()
    assert (ROOT / "helm" / "bioxen" / "ci" / "kind-values.yaml").is_file()


def test_kind_cluster_config():
    config = yaml.safe_load((ROOT / "deploy" / "kind" / "cluster.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]].count("control-plane") == 1


def test_make_target_runs_the_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "kind-e2e:\n\tbash deploy/kind/e2e.sh" in makefile


def test_workflow_runs_make_test_and_the_kind_e2e():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = {job: " ".join(str(s.get("run", "")) for s in spec["steps"]) for job, spec in workflow["jobs"].items()}
    assert any("make test" in run for run in steps.values())
    assert any("make kind-e2e" in run for run in steps.values())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "push" in triggers
