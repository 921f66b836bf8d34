"""Policy scan of the rendered chart with checkov (PyPI; `make tools` installs it in its own venv under
.tools because it pins many packages). Every failed check must be explained in checkov-skips.yaml,
and every explanation must still match a failure."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from chart_support import ci_values, render_text
from support import ROOT

CHECKOV = ROOT / ".tools" / "bin" / "checkov"
SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")
SCENARIOS = {"defaults": (), "full": ci_values("full"), "autoscaling-off": ci_values("autoscaling-off")}


@pytest.fixture(scope="module")
def failures(tmp_path_factory) -> dict[str, set[tuple[str, str]]]:
    if not CHECKOV.is_file():
        pytest.skip(f"checkov is not installed at {CHECKOV}: run `make tools`")
    out: dict[str, set[tuple[str, str]]] = {}
    for name, values in SCENARIOS.items():
        manifest = tmp_path_factory.mktemp("checkov") / f"{name}.yaml"
        manifest.write_text(render_text(values))
        proc = subprocess.run([str(CHECKOV), "--quiet", "--compact", "--framework", "kubernetes",
                               "--output", "json", "--skip-download", "-f", str(manifest)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        report = json.loads(proc.stdout)
        report = report[0] if isinstance(report, list) else report
        assert report["summary"]["parsing_errors"] == 0
        assert report["summary"]["resource_count"] >= 10, "checkov must have read the chart's objects"
        assert report["summary"]["passed"] > 100
        out[name] = {(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]}
    return out


def _skips() -> list[dict]:
    return yaml.safe_load(SKIPS_FILE.read_text())


def _matches(skip: dict, scenario: str, check: str, resource: str) -> bool:
    """An entry covers a failure: same check, a resource pattern matching, and (when the entry names
    scenarios) one of its scenarios."""
    return (skip["check"] == check and scenario in skip.get("scenarios", SCENARIOS)
            and any(fnmatch.fnmatchcase(resource, p) for p in skip["resources"]))


def test_every_skip_has_a_reason():
    for skip in _skips():
        assert {"check", "resources", "reason"} <= set(skip) <= {"check", "resources", "reason", "scenarios"}, skip
        assert set(skip.get("scenarios", SCENARIOS)) <= set(SCENARIOS), skip
        assert len(skip["reason"]) > 80, f"{skip['check']}: explain the reason"


def test_every_failed_check_is_explained(failures):
    skips = _skips()
    unexplained = sorted((scenario, check, resource) for scenario, found in failures.items()
                         for check, resource in found
                         if not any(_matches(s, scenario, check, resource) for s in skips))
    assert not unexplained, f"checkov failures without a reason in {SKIPS_FILE.name}: {unexplained}"


def test_no_stale_explanations(failures):
    stale = [s["check"] for s in _skips()
             if not any(_matches(s, scenario, check, resource)
                        for scenario, found in failures.items() for check, resource in found)]
    assert not stale, f"entries in {SKIPS_FILE.name} that match no failure any more: {stale}"


def test_security_checks_pass_on_every_workload(failures):
    """The checks behind issue 6's container rules are never among the failures."""
    must_pass = {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_37", "CKV_K8S_40",
                 "CKV_K8S_31", "CKV_K8S_38", "CKV_K8S_21", "CKV_K8S_11", "CKV_K8S_13"}
    failed = {check for found in failures.values() for check, _ in found}
    assert not failed & must_pass
