"""Every archive of the BioSimulators test suite in ../shared/omex, run in-process through
``run_experiment`` on the service its tasks need, against what the suite checks (expected-results.json)
and the reference reports (reports.h5).

Two differences from the references are named here rather than tuned away in the service:

- species quantities. A SED-ML target of an SBML species means its concentration in an ODE run and
  its molecule count in a Gillespie run (libRoadRunner's own SED-ML front end reads species as
  concentrations; see omex/kinetic.py). The references come from different simulators: all but one
  agree with that; Edelstein's reports the ODE run's species as amounts (:data:`REFERENCE_QUANTITY`),
  so for it our value is multiplied by the compartment size before comparing.
- series the reference holds at exactly zero while the model feeds them (:data:`REFERENCE_ZERO`):
  compared against the report's largest magnitude instead of their own.

Both are listed in docs/conformance.md, "COMBINE archives (OMEX)"."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import cache

import h5py
import libsedml
import numpy as np
import pytest
from bioxen_services.omex.execute import run_experiment
from bioxen_services.omex.kisao import SSA, choose
from sedml_support import (
    OMEX_DIR,
    expected,
    extract,
    reference_archives,
    relative_difference,
    series,
    service_for,
)

#: the archive with two 200-hour Gillespie runs of the circadian clock (several seconds)
SLOW = {"Vilar-PNAS-2002-minimal-circardian-clock"}
ARCHIVES = reference_archives()
PARAMETERS = [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in ARCHIVES]
TOLERANCE = 1e-3
pytestmark = pytest.mark.skipif(not ARCHIVES, reason=f"the suite's archives are not at {OMEX_DIR} (../shared/omex)")
#: archives whose deterministic references give species as amounts, not concentrations
REFERENCE_QUANTITY = {
    "Edelstein-Biol-Cybern-1996-Nicotinic-excitation": "amount",
}
#: data sets the reference holds at 0 for the whole run although reactions of the model feed them (the
#: model's DuoLoss and RestLoss reactions move iron to FeOutside; libRoadRunner in-process agrees with
#: the service, 2.6e-7 at the end)
REFERENCE_ZERO = {("Parmar-BMC-Syst-Biol-2017-iron-distribution", "data_set_FeOutside")}


@cache
def _run(name: str, folder: str) -> tuple[dict, list[str]]:
    from pathlib import Path

    sedml = extract(name, Path(folder))
    return run_experiment(folder, sedml, service_for(name)), sedml


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each archive run once for all the checks of this module."""
    folders = {}

    def get(name: str):
        if name not in folders:
            folders[name] = str(tmp_path_factory.mktemp(name[:40]))
        return _run(name, folders[name])
    return get, folders


def _sbml_species(model_file) -> dict[str, tuple[bool, float]]:
    """species id -> (hasOnlySubstanceUnits, its compartment's size)."""
    root = ET.parse(model_file).getroot()
    sizes = {c.get("id"): float(c.get("size", "1")) for c in root.iter() if c.tag.endswith("}compartment")}
    return {s.get("id"): (s.get("hasOnlySubstanceUnits", "false") == "true", sizes.get(s.get("compartment"), 1.0))
            for s in root.iter() if s.tag.endswith("}species")}


def _layout(folder: str, sedml: str, quantity: str | None) -> dict:
    """Per report id: whether it is stochastic, and per plain-species data set the factor that turns our
    concentration into the reference's ``quantity``: the compartment size for "amount" (none: both agree)."""
    doc = libsedml.readSedMLFromFile(f"{folder}/{sedml}")
    species = {}
    for i in range(doc.getNumModels()):
        source = doc.getModel(i).getSource()
        while doc.getModel(source) is not None:
            source = doc.getModel(source).getSource()
        species[doc.getModel(i).getId()] = _sbml_species(f"{folder}/{source}")
    out = {}
    for i in range(doc.getNumOutputs()):
        report = doc.getOutput(i)
        if report.getElementName() != "report":
            continue
        entry = out[report.getId()] = {"stochastic": False, "factor": {}}
        for j in range(report.getNumDataSets()):
            data_set = report.getDataSet(j)
            generator = doc.getDataGenerator(data_set.getDataReference())
            for k in range(generator.getNumVariables()):
                variable = generator.getVariable(k)
                task = doc.getTask(variable.getTaskReference())
                simulation = doc.getSimulation(task.getSimulationReference())
                if choose(simulation.getAlgorithm().getKisaoID())[0].kind == SSA:
                    entry["stochastic"] = True
                found = re.search(r"species\[@id='([^']+)'\]$", variable.getTarget() or "")
                if found and generator.getNumVariables() == 1 and quantity == "amount":
                    entry["factor"][data_set.getId()] = species[task.getModelReference()][found.group(1)][1]
    return out


@pytest.mark.parametrize("name", PARAMETERS)
def test_reports_have_the_expected_ids_labels_shapes_and_values(results, name):
    get, _ = results
    answer, _ = get(name)
    want = expected(name)
    assert set(answer["reports"]) == {r["id"] for r in want["expectedReports"]}
    for report in want["expectedReports"]:
        got = answer["reports"][report["id"]]["data_sets"]
        assert sorted((d["id"], d["label"]) for d in got) == sorted((d["id"], d["label"]) for d in report["dataSets"])
        for data_set in got:
            assert np.shape(data_set["values"]) == (tuple(report["points"]) or (1,)), data_set["id"]
        by_id = {d["id"]: series(d["values"]) for d in got}
        for value in report.get("values", []):
            ours = by_id[value["id"]]
            points = value["value"] if isinstance(value["value"], dict) else {"0": value["value"]}
            for index, number in points.items():
                position = tuple(int(i) for i in str(index).split(","))
                assert ours[position] == pytest.approx(number, rel=TOLERANCE, abs=1e-12), (value["id"], index)
    assert {p["id"] for p in want.get("expectedPlots", [])} <= set(answer["plots"])
    for plot in answer["plots"].values():
        assert plot["curves"] and all(np.size(c["x"]["values"]) == np.size(c["y"]["values"]) for c in plot["curves"])


@pytest.mark.parametrize("name", PARAMETERS)
def test_reports_match_the_reference_reports(results, name):
    """Deterministic reports within 1e-3 of each series' largest magnitude; stochastic ones (one run
    each: these archives ask for no repetitions) in shape, with amounts as whole molecule counts."""
    get, folders = results
    answer, sedml_files = get(name)
    quantity = REFERENCE_QUANTITY.get(name)
    layouts = {key: _layout(folders[name], key, quantity)
               for key in (s.removeprefix("./") for s in sedml_files)}
    worst = 0.0
    with h5py.File(OMEX_DIR / name / "reports.h5") as reference:
        for key, report in answer["reports"].items():
            sedml, report_id = key.rsplit("/", 1)
            layout = layouts[sedml][report_id]
            rows = reference[key]
            ids = [i.decode() if isinstance(i, bytes) else i for i in rows.attrs["sedmlDataSetIds"]]
            assert [d["id"] for d in report["data_sets"]] == ids  # the rows in the reference's order
            for data_set in report["data_sets"]:
                ours, theirs = series(data_set["values"]), rows[ids.index(data_set["id"])]
                assert ours.shape == theirs.shape, data_set["id"]
                if layout["stochastic"]:
                    assert np.isfinite(ours).all()
                    continue
                ours = ours * layout["factor"].get(data_set["id"], 1.0)
                floor = np.nanmax(np.abs(rows[1:])) if (name, data_set["id"]) in REFERENCE_ZERO else 1e-10
                difference = relative_difference(ours, theirs, floor)
                worst = max(worst, difference)
                assert difference <= TOLERANCE, (key, data_set["id"], difference)
    print(f"{name}: largest relative difference {worst:.2e}")


@pytest.mark.slow
def test_substitutions_are_declared(results):
    """LSODA/LSODAR run as CVODE, Gibson-Bruck as Gillespie, RKF45 on a model with events as CVODE
    (libRoadRunner's rk45 does not fire events): each said, with a reason."""
    get, _ = results
    seen = {}
    for name in ARCHIVES:
        if service_for(name) != "dynamic":
            continue
        answer, _ = get(name)
        for task in answer["tasks"]:
            seen[task["algorithm"]["requested"]] = task["algorithm"]["used"]
        for substitution in answer["substitutions"]:
            assert substitution["reason"] and substitution["requested"] != substitution["used"]
            assert {"task": substitution["task"]} and any(t["id"] == substitution["task"] for t in answer["tasks"])
    assert seen.get("KISAO_0000088") == "KISAO_0000019"
    assert seen.get("KISAO_0000560") == "KISAO_0000019"
    assert seen.get("KISAO_0000027") == "KISAO_0000029"
    assert seen.get("KISAO_0000019") == "KISAO_0000019"
    assert seen.get("KISAO_0000029") == "KISAO_0000029"
