"""The dynamic service's conformance fields and guarantees (issue 11), against libRoadRunner in-process:
no model id breaks a worker, amounts vs concentrations, tolerances, models without floating species,
fresh state per request (delayed events), engine limits as named 4xx, comp files, ensembles."""

from __future__ import annotations

import numpy as np
import pytest
import requests
import roadrunner

from support import reference_roadrunner

roadrunner.Config.setValue(roadrunner.Config.ROADRUNNER_DISABLE_PYTHON_DYNAMIC_PROPERTIES, True)


def post(url: str, body: dict, path: str = "/v1/simulate") -> requests.Response:
    return requests.post(url + path, json=body, timeout=120)


def sbml(antimony_text: str) -> str:
    import antimony

    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString(antimony_text) >= 0, antimony.getLastError()
    return antimony.getSBMLString(antimony.getMainModuleName())


COLLIDING_IDS = ["reset", "simulate", "integrator", "getValue", "setValue", "resetAll", "steadyState",
                 "getFloatingSpeciesIds", "model"]


def test_model_ids_that_name_roadrunner_methods_break_nothing(dynamic_single):
    """Ids such as ``reset`` used to remove RoadRunner.reset from the worker for good (every later
    request a 500, readiness still 200)."""
    url = dynamic_single.url
    for pid in COLLIDING_IDS:
        text = sbml(f"model m\n S = 10\n {pid}_ = 0.5\n J0: S -> ; {pid}_ * S\nend").replace(f"{pid}_", pid)
        r = post(url, {"model": {"sbml": text}, "end": 2, "points": 3, "selections": ["S", pid],
                       "parameters": {pid: 0.25}})
        assert r.status_code == 200, (pid, r.text)
        assert r.json()["trajectories"]["S"][-1] == pytest.approx(10 * np.exp(-0.5), rel=1e-5)
        assert r.json()["trajectories"][pid] == [0.25] * 3
    body = post(url, {}, "/compute/kinetic").json()
    assert body["final_state"] == pytest.approx([0.367166, 0.487050], abs=1e-6)
    assert post(url, {"model": {"id": "repressilator"}, "end": 10}).status_code == 200
    assert post(url, {"model": {"id": "gene_expression"}}, "/v1/steady-state").json()["steady_state"] == \
        pytest.approx({"mRNA": 0.4, "protein": 8.0}, rel=1e-9)


SUITE_RESET_CASES = ["00952", "00962", "00963", "00964", "00965", "00966", "00967", "01588", "01590", "01592",
                     "01594", "01596", "01598", "01600", "01602", "01604", "01605"]


def test_the_suites_reset_models_then_shipped_models(dynamic_single):
    """The suite's models with a parameter ``reset``: each answers, and the worker still serves."""
    from support import ROOT

    folder = ROOT.parent / "shared" / "sbml-test-suite" / "semantic"
    files = [sorted((folder / c).glob(f"{c}-sbml-l*.xml"))[-1] for c in SUITE_RESET_CASES if (folder / c).is_dir()]
    if not files:
        pytest.skip(f"the shared SBML Test Suite cases are not at {folder}")
    for path in files:
        r = post(dynamic_single.url, {"model": {"sbml": path.read_text()}, "end": 1, "points": 3})
        assert r.status_code in (200, 422), (path.name, r.text)  # 422: an engine limit, by name
    assert post(dynamic_single.url, {}, "/compute/kinetic").json()["final_state"] == \
        pytest.approx([0.367166, 0.487050], abs=1e-6)


TWO_LITRES = "model m\n compartment C = 2\n species S in C = 3\n J0: S -> ; k * S\n k = 0.5\nend"


def test_amounts_and_concentrations(dynamic_url):
    text = sbml(TWO_LITRES)
    rr = roadrunner.RoadRunner(text)
    ref = rr.simulate(0, 4, 5, ["time", "S", "[S]"])
    conc = post(dynamic_url, {"model": {"sbml": text}, "end": 4, "points": 5}).json()
    amounts = post(dynamic_url, {"model": {"sbml": text}, "end": 4, "points": 5, "species_values": "amounts",
                                 "selections": ["S", "[S]", "C"]}).json()
    assert conc["species_values"] == "concentrations"
    assert np.allclose(conc["trajectories"]["S"], ref[:, 2], rtol=1e-7)
    assert list(amounts["trajectories"]) == ["S", "[S]", "C"]  # the selections, as sent
    assert np.allclose(amounts["trajectories"]["S"], ref[:, 1], rtol=1e-7)
    assert np.allclose(amounts["trajectories"]["[S]"], ref[:, 2], rtol=1e-7)
    assert amounts["trajectories"]["S"][0] == pytest.approx(6.0)  # 3 mol/L x 2 L
    # initial conditions: a bare id is what species_values says, [S] always a concentration
    a = post(dynamic_url, {"model": {"sbml": text}, "points": 2, "species_values": "amounts",
                           "initial_conditions": {"S": 10}, "selections": ["S"]}).json()
    c = post(dynamic_url, {"model": {"sbml": text}, "points": 2, "species_values": "amounts",
                           "initial_conditions": {"[S]": 5}, "selections": ["S"]}).json()
    assert a["trajectories"]["S"][0] == pytest.approx(10.0)
    assert c["trajectories"]["S"][0] == pytest.approx(10.0)
    steady = post(dynamic_url, {"model": {"sbml": text}, "species_values": "amounts",
                                "initial_conditions": {"S": 4}}, "/v1/steady-state")
    assert steady.status_code == 200 and steady.json()["steady_state"]["S"] == pytest.approx(0, abs=1e-6)
    scan = post(dynamic_url, {"model": {"sbml": text}, "species_values": "amounts", "end": 4, "points": 5,
                              "grid": {"k": [0.5, 1.0]}}, "/v1/scan").json()
    # d(amount)/dt = -k [S] = -k amount / 2 L
    assert scan["final"]["S"] == pytest.approx([ref[-1, 1], 6 * np.exp(-2.0)], rel=1e-6)


def test_gillespie_amounts_are_counts(dynamic_url):
    text = sbml(TWO_LITRES.replace("= 3\n", "= 50\n"))
    body = post(dynamic_url, {"model": {"sbml": text}, "integrator": "gillespie", "seed": 4, "end": 2,
                              "points": 5, "species_values": "amounts", "selections": ["S", "[S]"]}).json()
    counts = np.array(body["trajectories"]["S"])
    assert counts[0] == 100 and np.all(counts == np.round(counts))
    assert np.allclose(body["trajectories"]["[S]"], counts / 2)


def test_tolerances(dynamic_url):
    program = {"id": "repressilator"}
    rr = reference_roadrunner("repressilator")
    rr.integrator.absolute_tolerance, rr.integrator.relative_tolerance = 1e-4, 1e-2
    species = list(rr.model.getFloatingSpeciesIds())
    loose_ref = rr.simulate(0, 200, 11, ["time", *(f"[{s}]" for s in species)])
    loose = post(dynamic_url, {"model": program, "end": 200, "points": 11, "selections": species,
                               "absolute_tolerance": 1e-4, "relative_tolerance": 1e-2}).json()
    tight = post(dynamic_url, {"model": program, "end": 200, "points": 11, "selections": species}).json()
    for i, s in enumerate(species):
        assert np.allclose(loose["trajectories"][s], loose_ref[:, i + 1], rtol=1e-9, atol=1e-12), s
    assert not np.allclose(loose["trajectories"][species[0]], tight["trajectories"][species[0]], rtol=1e-6)


@pytest.mark.parametrize("field, value", [("absolute_tolerance", 0), ("relative_tolerance", -1e-6),
                                          ("absolute_tolerance", "small"), ("species_values", "moles")])
def test_bad_conformance_fields(dynamic_url, field, value):
    r = post(dynamic_url, {"model": {"id": "gene_expression"}, field: value})
    assert r.status_code == 400 and field in r.json()["error"]["message"], r.text


def test_models_without_floating_species_simulate(dynamic_url):
    r = post(dynamic_url, {"model": {"antimony": "model m\n p = 0\n p' = 1\n q := 2 * p\nend"},
                           "end": 2, "points": 3})
    assert r.status_code == 200, r.text
    assert r.json()["trajectories"] == {"p": [0.0, 1.0, 2.0], "q": [0.0, 2.0, 4.0]}
    boundary = post(dynamic_url, {"model": {"antimony": "model m\n $X = 3\n E1: at time > 1: X = 5\nend"},
                                  "end": 2, "points": 3}).json()
    assert boundary["trajectories"]["X"] == [3.0, 3.0, 5.0]


DELAYED = "model delayed\n S = 0; k = 1\n J0: -> S; k\n E1: at 2 after time > 0.5: S = 100\nend"


def test_each_request_starts_fresh_after_pending_delayed_events(dynamic_single):
    """The first request ends before the delayed event fires; the next must not see it pending."""
    text = sbml(DELAYED)
    ref = roadrunner.RoadRunner(text).simulate(0, 4, 9, ["time", "S"])[:, 1]
    post(dynamic_single.url, {"model": {"sbml": text}, "end": 1, "points": 3})
    for _ in range(2):
        body = post(dynamic_single.url, {"model": {"sbml": text}, "end": 4, "points": 9}).json()
        assert np.allclose(body["trajectories"]["S"], ref, rtol=1e-8, atol=1e-10)


ALGEBRAIC = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="m"><listOfParameters>
    <parameter id="x" value="1" constant="false"/><parameter id="y" value="1" constant="false"/>
  </listOfParameters><listOfRules>
    <algebraicRule><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><minus/><ci>x</ci><ci>y</ci>
    </apply></math></algebraicRule>
  </listOfRules></model></sbml>"""


SOLVABLE = ALGEBRAIC.replace(
    "<listOfRules>", '<listOfRules><rateRule variable="x"><math xmlns="http://www.w3.org/1998/Math/MathML">'
                     "<cn>1</cn></math></rateRule>").replace(
    "<ci>x</ci><ci>y</ci>", "<apply><times/><cn>2</cn><ci>x</ci></apply><ci>y</ci>")


def test_an_algebraic_rule_linear_in_its_one_free_variable_simulates(dynamic_url):
    """0 = 2 x - y with x set by a rate rule determines y: rewritten as y := 2 x."""
    r = post(dynamic_url, {"model": {"sbml": SOLVABLE}, "end": 2, "points": 3, "selections": ["x", "y"]})
    assert r.status_code == 200, r.text
    assert r.json()["trajectories"] == {"x": pytest.approx([1, 2, 3]), "y": pytest.approx([2, 4, 6])}


@pytest.mark.parametrize("model, feature", [
    ({"sbml": ALGEBRAIC}, "algebraic rules"),
    ({"antimony": "model m\n S = 1\n J0: -> S; delay(S, 1)\nend"}, "delay()"),
])
def test_engine_limits_are_named(dynamic_url, model, feature):
    r = post(dynamic_url, {"model": model})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "unsupported_feature" and feature in error["message"]
    assert " at " not in error["message"] and "::" not in error["message"]  # no C++ frames


@pytest.mark.parametrize("program, field, name", [
    ("chassagnole_central_carbon", "parameters", "catp"),
    ("teusink_glycolysis", "initial_conditions", "ATP"),
    ("repressilator", "parameters", "kd_mRNA"),
])
def test_setting_what_a_rule_defines_is_a_400(dynamic_url, program, field, name):
    r = post(dynamic_url, {"model": {"id": program}, field: {name: 1.0}})
    assert r.status_code == 400, r.text
    assert f"'{name}'" in r.json()["error"]["message"] and "assignment rule" in r.json()["error"]["message"]


SUB = sbml("model sub\n species x = 5\n J0: x -> ; kx * x\n kx = 1\nend")
MAIN = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1"
      xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" comp:required="true">
  <model id="main"><listOfCompartments><compartment id="C" size="1" constant="true"/></listOfCompartments>
    <comp:listOfSubmodels><comp:submodel comp:id="A" comp:modelRef="ext"/></comp:listOfSubmodels>
  </model>
  <comp:listOfExternalModelDefinitions>
    <comp:externalModelDefinition comp:id="ext" comp:source="sub.xml" comp:modelRef="sub"/>
  </comp:listOfExternalModelDefinitions>
</sbml>"""


def test_comp_external_models_from_inline_files_only(dynamic_url):
    r = post(dynamic_url, {"model": {"sbml": MAIN, "files": {"sub.xml": SUB}}, "end": 1, "points": 2,
                           "species_values": "amounts"})
    assert r.status_code == 200, r.text
    assert r.json()["trajectories"]["A__x"] == pytest.approx([5.0, 5 * np.exp(-1)], rel=1e-5)
    changed = post(dynamic_url, {"model": {"sbml": MAIN, "files": {"sub.xml": SUB.replace('"5"', '"7"')}},
                                 "end": 1, "points": 2}).json()
    assert changed["model"]["sha256"] != r.json()["model"]["sha256"]  # the files are part of the model
    assert changed["trajectories"]["A__x"][0] == pytest.approx(7.0)
    missing = post(dynamic_url, {"model": {"sbml": MAIN, "files": {"other.xml": SUB}}})
    assert missing.status_code == 400 and "'sub.xml'" in missing.json()["error"]["message"]
    bare = post(dynamic_url, {"model": {"sbml": MAIN}})
    assert bare.status_code == 400 and "files" in bare.json()["error"]["message"]


def test_gillespie_ensemble(dynamic_url):
    spec = {"model": {"id": "gene_expression"}, "integrator": "gillespie", "end": 40, "points": 5,
            "parameters": {"k_transcription": 5}, "repetitions": 200, "seed": 11, "selections": ["mRNA"]}
    a = post(dynamic_url, {**spec, "return_runs": True}).json()
    b = post(dynamic_url, spec).json()
    assert a["repetitions"] == 200 and a["seed"] == 11 and len(a["runs"]) == 200
    assert a["mean"] == b["mean"] and a["sd"] == b["sd"]  # reproducible for a seed
    runs = np.array([run["mRNA"] for run in a["runs"]])
    assert np.allclose(a["mean"]["mRNA"], runs.mean(axis=0)) and np.allclose(a["sd"]["mRNA"], runs.std(0, ddof=1))
    # immigration-death: the count at the end is Poisson with mean 5 / 0.25 = 20
    assert a["mean"]["mRNA"][-1] == pytest.approx(20, abs=2.5) and a["sd"]["mRNA"][-1] == pytest.approx(20**0.5, abs=1)
    single = post(dynamic_url, {k: v for k, v in spec.items() if k != "repetitions"} | {"seed": 12}).json()
    assert single["trajectories"]["mRNA"] == a["runs"][1]["mRNA"]  # run i is seeded seed + i


@pytest.mark.parametrize("extra, status", [({"repetitions": 10**6}, 422), ({"repetitions": 0}, 400),
                                           ({"return_runs": True}, 400)])
def test_ensemble_limits(dynamic_url, extra, status):
    r = post(dynamic_url, {"model": {"id": "gene_expression"}, "integrator": "gillespie", **extra})
    assert r.status_code == status, r.text
