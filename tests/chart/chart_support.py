"""Chart helpers: the real Helm binary (``make tools`` puts it in .tools/bin) renders the chart once per
values scenario and session; tests read the rendered objects as plain dicts."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from support import ROOT

HELM = ROOT / ".tools" / "bin" / "helm"
CHART = ROOT / "helm" / "bioxen"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "bioxen"
NAMESPACE = "bioxen"


def require_helm() -> None:
    if not HELM.is_file():
        pytest.skip(f"helm is not installed at {HELM}: run `make tools`")


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    require_helm()
    proc = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@lru_cache(maxsize=None)
def render_text(values: tuple[str, ...] = (), sets: tuple[str, ...] = (), release: str = RELEASE) -> str:
    args = ["template", release, str(CHART), "--namespace", NAMESPACE]
    for path in values:
        args += ["-f", path]
    for item in sets:
        args += ["--set", item]
    return helm(*args).stdout


def render(values: tuple[str, ...] = (), sets: tuple[str, ...] = (), release: str = RELEASE) -> list[dict]:
    """The chart's objects for one values scenario (cached per session; callers must not mutate)."""
    return [doc for doc in yaml.safe_load_all(render_text(values, sets, release)) if doc]


def ci_values(name: str) -> tuple[str, ...]:
    return (str(CHART / "ci" / f"{name}-values.yaml"),)


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_specs(objects: list[dict]) -> list[tuple[str, dict]]:
    """(object name, pod spec) of every workload and bare pod."""
    out = []
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((o["metadata"]["name"], o["spec"]["template"]["spec"]))
        elif o["kind"] == "Pod":
            out.append((o["metadata"]["name"], o["spec"]))
    return out



def load_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())
