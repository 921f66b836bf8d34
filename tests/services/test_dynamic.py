"""The dynamic kinetic service against in-process libRoadRunner / Tellurium on the same programs."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from support import metric_value, reference_roadrunner
from support import BYTECODE

PROGRAMS = ["gene_expression", "repressilator", "teusink_glycolysis", "chassagnole_central_carbon",
            "kholodenko_mapk"]
GENE_EXPRESSION = (BYTECODE / "kinetic" / "gene_expression.ant").read_text()


def post(url: str, path: str, body: dict) -> requests.Response:
    return requests.post(url + path, json=body, timeout=120)


def test_phase1_health(dynamic_url):
    assert requests.get(dynamic_url + "/health", timeout=10).json() == {
        "status": "healthy", "service": "dynamic_kinetic"}


def test_phase1_default_program(dynamic_url):
    r = post(dynamic_url, "/compute/kinetic", {"vm_id": "ecoli_vm_1"})
    assert r.status_code == 200, r.text
    body = r.json()
    rr = reference_roadrunner("gene_expression")
    ref = rr.simulate(0, 10, 100)
    assert body["computation_type"] == "dynamic_kinetic"
    assert body["computation_service"] == "centralized_tellurium"
    assert body["execution_result"] == "computed_trajectory"
    assert len(body["program_key"]) == 64
    assert len(body["time_vector"]) == 100
    assert body["final_state"] == pytest.approx([0.367166, 0.487050], abs=1e-6)
    assert body["final_state"] == pytest.approx(list(ref[-1, 1:]), rel=1e-9)
    assert np.allclose(body["species_trajectories"]["mRNA"], ref[:, 1], rtol=1e-9, atol=1e-12)
    assert np.allclose(body["species_trajectories"]["protein"], ref[:, 2], rtol=1e-9, atol=1e-12)


def test_phase1_initial_conditions_and_time_span(dynamic_url):
    body = post(dynamic_url, "/compute/kinetic", {"kinetic_code": GENE_EXPRESSION, "time_start": 0,
                                                   "time_end": 50, "time_points": 26,
                                                   "initial_conditions": {"mRNA": 2.0}}).json()
    rr = reference_roadrunner("gene_expression")
    rr["mRNA"] = 2.0
    ref = rr.simulate(0, 50, 26)
    assert body["time_vector"] == pytest.approx(list(ref[:, 0]))
    assert body["final_state"] == pytest.approx(list(ref[-1, 1:]), rel=1e-8)


def test_phase1_unknown_species_is_named(dynamic_url):
    r = post(dynamic_url, "/compute/kinetic", {"initial_conditions": {"mRNA": 1, "ribosome": 5}})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unknown_species"
    assert "'ribosome'" in r.json()["error"]["message"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_shipped_programs_match_roadrunner(dynamic_url, program):
    body = post(dynamic_url, "/v1/simulate", {"model": {"id": program}, "start": 0, "end": 10,
                                               "points": 101}).json()
    rr = reference_roadrunner(program)
    # the default output: every species, floating then boundary, as concentrations
    species = [*rr.model.getFloatingSpeciesIds(), *rr.model.getBoundarySpeciesIds()]
    ref = rr.simulate(0, 10, 101, ["time", *(f"[{s}]" for s in species)])
    assert list(body["trajectories"]) == species
    assert body["time"] == pytest.approx(list(ref[:, 0]))
    for i, sid in enumerate(species):
        assert np.allclose(body["trajectories"][sid], ref[:, i + 1], rtol=1e-6, atol=1e-9), sid
    assert body["model"]["id"] == program


def test_selections_and_parameters(dynamic_url):
    body = post(dynamic_url, "/v1/simulate", {"model": {"id": "gene_expression"}, "points": 11,
                                               "selections": ["protein", "J_translation", "k_translation"],
                                               "parameters": {"k_translation": 0.5}}).json()
    rr = reference_roadrunner("gene_expression")
    rr["k_translation"] = 0.5
    ref = rr.simulate(0, 10, 11, ["time", "[protein]", "J_translation", "k_translation"])
    assert list(body["trajectories"]) == ["protein", "J_translation", "k_translation"]
    assert np.allclose(body["trajectories"]["protein"], ref[:, 1], rtol=1e-8)
    assert np.allclose(body["trajectories"]["J_translation"], ref[:, 2], rtol=1e-8)
    assert body["trajectories"]["k_translation"] == [0.5] * 11


def test_parameters_do_not_leak(dynamic_single):
    url = dynamic_single.url
    post(url, "/v1/simulate", {"model": {"id": "gene_expression"}, "parameters": {"k_transcription": 5},
                               "initial_conditions": {"protein": 100}})
    post(url, "/v1/simulate", {"model": {"id": "gene_expression"}, "integrator": "gillespie", "seed": 1})
    body = post(url, "/compute/kinetic", {}).json()
    assert body["final_state"] == pytest.approx([0.367166, 0.487050], abs=1e-6)
    steady = post(url, "/v1/steady-state", {"model": {"id": "gene_expression"}}).json()
    assert steady["steady_state"] == pytest.approx({"mRNA": 0.4, "protein": 8.0}, rel=1e-9)


def test_steady_state_matches_roadrunner(dynamic_url):
    body = post(dynamic_url, "/v1/steady-state", {"model": {"id": "repressilator"}}).json()
    rr = reference_roadrunner("repressilator")
    rr.steadyState()
    ref = dict(zip(rr.model.getFloatingSpeciesIds(), rr.model.getFloatingSpeciesConcentrations()))
    assert body["steady_state"] == pytest.approx(ref, rel=1e-6)


def test_scan_matches_a_loop_over_roadrunner(dynamic_url):
    values = [0.05, 0.1, 0.2, 0.4]
    body = post(dynamic_url, "/v1/scan", {"model": {"id": "gene_expression"},
                                           "grid": {"k_transcription": values, "k_translation": [0.1, 0.3]},
                                           "end": 20, "points": 21}).json()
    rr = reference_roadrunner("gene_expression")
    expected = []
    for kt in values:
        for kl in (0.1, 0.3):
            rr.resetAll()
            rr["k_transcription"], rr["k_translation"] = kt, kl
            expected.append(rr.simulate(0, 20, 21)[-1, 1:])
    assert body["parameters"] == ["k_transcription", "k_translation"]
    assert body["points"] == [[kt, kl] for kt in values for kl in (0.1, 0.3)]
    assert np.allclose(body["final"]["mRNA"], [e[0] for e in expected], rtol=1e-8)
    assert np.allclose(body["final"]["protein"], [e[1] for e in expected], rtol=1e-8)
    traj = post(dynamic_url, "/v1/scan", {"model": {"id": "gene_expression"}, "output": "trajectories",
                                           "grid": {"k_transcription": [0.1]}, "points": 100}).json()
    assert traj["trajectories"][0]["mRNA"][-1] == pytest.approx(0.367166, abs=1e-6)


def test_gillespie_is_reproducible_by_seed(dynamic_url):
    spec = {"model": {"id": "gene_expression"}, "integrator": "gillespie", "end": 200, "points": 51,
            "parameters": {"k_transcription": 5}}
    a = post(dynamic_url, "/v1/simulate", {**spec, "seed": 7}).json()
    b = post(dynamic_url, "/v1/simulate", {**spec, "seed": 7}).json()
    c = post(dynamic_url, "/v1/simulate", {**spec, "seed": 8}).json()
    assert a["seed"] == 7 and a["integrator"] == "gillespie"
    assert a["trajectories"] == b["trajectories"]
    assert a["trajectories"] != c["trajectories"]
    counts = np.array(a["trajectories"]["mRNA"])
    assert np.all(counts == np.round(counts))  # molecule counts, not concentrations of an ODE
    assert 5 < counts[25:].mean() < 40  # the ODE steady state is 5 / 0.25 = 20


def test_inline_antimony_compiles_once(dynamic_single):
    url = dynamic_single.url
    program = GENE_EXPRESSION.replace("k_transcription = 0.1", "k_transcription = 0.3")
    before = requests.get(url + "/metrics", timeout=10).text
    first = post(url, "/v1/simulate", {"model": {"antimony": program}}).json()
    second = post(url, "/compute/kinetic", {"kinetic_code": program}).json()
    after = requests.get(url + "/metrics", timeout=10).text
    assert first["trajectories"]["mRNA"][-1] == pytest.approx(3 * 0.3671658889, rel=1e-6)
    assert second["program_key"] == first["model"]["sha256"]
    assert metric_value(after, "bioxen_model_cache_misses_total", source="inline") - \
        metric_value(before, "bioxen_model_cache_misses_total", source="inline") == 1


@pytest.mark.parametrize("body, code, phrase", [
    ({"model": {"antimony": "model m\n J0: -> A; k*\nend"}}, "invalid_model", "line 2"),
    ({"model": {"sbml": "<sbml><model></sbml>"}}, "invalid_model", "line"),
    ({"model": {"sbml": "/etc/passwd"}}, "invalid_model", "never as paths"),
    ({"model": {"id": "gene_expression"}, "parameters": {"k_nope": 1}}, "unknown_parameter", "'k_nope'"),
    ({"model": {"id": "gene_expression"}, "selections": ["ATP"]}, "unknown_selection", "'ATP'"),
    ({"model": {"id": "gene_expression"}, "start": 5, "end": 1}, "invalid_request", "must be after start"),
    ({"model": {"id": "gene_expression"}, "integrator": "euler"}, "invalid_request", "integrator"),
])
def test_v1_errors_name_the_problem(dynamic_url, body, code, phrase):
    r = post(dynamic_url, "/v1/simulate", body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["code"] == code
    assert phrase in r.json()["error"]["message"]


def test_models_listing(dynamic_url):
    models = {m["id"]: m for m in requests.get(dynamic_url + "/v1/models", timeout=30).json()["models"]}
    assert set(models) == set(PROGRAMS)
    assert models["gene_expression"]["format"] == "antimony"
    detail = requests.get(dynamic_url + "/v1/models/gene_expression", timeout=30).json()
    assert detail["parameters"]["k_transcription"] == 0.1
    assert detail["floating_species"] == ["mRNA", "protein"]
