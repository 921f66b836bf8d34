"""The VM side installs alone and works with no engine: a clean virtual environment (no system site
packages), ``pip install ./common ./vm_client`` only (copies, so no checkout is on any path; no
``BIOXEN_BYTECODE_DIR``), then import, the chassis manifest found as package data, a real FBA through the
services, and the CLI; without ``requests`` (an extra) and without cobra (a COBRA JSON model file is
refused saying how to convert it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv

import pytest

from support import ROOT

CHECK = r"""
import importlib.util, json, os, sys
import bioxen_vm
from bioxen_common import manifest
from bioxen_vm import BiologicalComputationClient, create_bio_vm, get_chassis_config
engines = {name: importlib.util.find_spec(name) is not None
           for name in ("cobra", "roadrunner", "tellurium", "antimony", "optlang", "bioxen_services", "requests")}
chassis = get_chassis_config("yeast")
with BiologicalComputationClient(sys.argv[1], sys.argv[2], environ={}) as client:
    growth = client.fba("e_coli_core")["objective_value"]
    protein = client.simulate("gene_expression")["trajectories"]["protein"][-1]
with create_bio_vm("clean_vm", "ecoli", "lightweight",
                   {"computation_service_urls": {"static": sys.argv[1], "dynamic": sys.argv[2]}}) as vm:
    vm_growth = vm.execute_biological_process("metabolic_flux_analysis")["biological_output"]["growth_rate"]
import bioxen_vm.cli, bioxen_vm.demo, bioxen_vm.transport
with open("cobra.json", "w") as fh:
    json.dump({"reactions": [], "metabolites": [], "genes": []}, fh)
try:
    bioxen_vm.load_model_file("cobra.json")
except ValueError as exc:
    refused = str(exc)
print(json.dumps({"engines": engines, "growth": growth, "protein": protein, "vm_growth": vm_growth,
                  "refused": refused,
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("cobra", "roadrunner", "requests")),
                  "bytecode": str(manifest.default_dir()), "chassis": chassis,
                  "packages": {name: os.path.realpath(sys.modules[name].__file__)
                               for name in ("bioxen_vm", "bioxen_common")}}))
"""


@pytest.mark.slow
def test_clean_venv_installs_and_runs_the_client_without_engines(tmp_path, static_url, dynamic_url):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    sources = []
    for project in ("common", "vm_client"):
        sources.append(tmp_path / "src" / project)
        shutil.copytree(ROOT / project, sources[-1],
                        ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
           and not k.startswith(("BIOXEN_", "PROMETHEUS_"))}
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              *map(str, sources)], env=env, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    shutil.rmtree(tmp_path / "src")  # installed, not run from the copies

    result = subprocess.run([str(python), "-c", CHECK, static_url, dynamic_url], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["engines"] == dict.fromkeys(report["engines"], False)
    assert report["loaded"] == []
    assert ("is a COBRA JSON model" in report["refused"] and "pip install cobra" in report["refused"]
            and "cobra.io.write_sbml_model(cobra.io.load_json_model(path), 'model.xml')" in report["refused"])
    assert report["growth"] == pytest.approx(0.873922, abs=1e-6)
    assert report["vm_growth"] == pytest.approx(0.873922, abs=1e-6)
    assert report["protein"] == pytest.approx(0.487050, abs=1e-6)
    site = str((env_dir / "lib").resolve())
    assert all(path.startswith(site) for path in report["packages"].values()), report["packages"]
    assert report["bytecode"].startswith(site) and report["bytecode"].endswith("bioxen_common/bytecode")
    assert (report["chassis"]["metabolic_model"], report["chassis"]["default_objective"]) == (
        "iMM904", "BIOMASS_SC5_notrace")

    bioxen = env_dir / "bin" / "bioxen"
    health = subprocess.run([str(bioxen), "health", "--json", "--static-url", static_url, "--dynamic-url",
                             dynamic_url], env=env, capture_output=True, text=True, timeout=60)
    assert health.returncode == 0 and json.loads(health.stdout)["static_service"] is True
    fba = subprocess.run([str(bioxen), "fba", "e_coli_core", "--format", "csv", "--top", "0",
                          "--static-url", static_url], env=env, capture_output=True, text=True, timeout=60)
    assert fba.returncode == 0 and fba.stdout.splitlines()[0] == "reaction,flux", fba.stderr
    serve = subprocess.run([str(bioxen), "serve", "static"], env=env, capture_output=True, text=True, timeout=60)
    assert serve.returncode == 2 and "needs the bioxen-services distribution" in serve.stderr
