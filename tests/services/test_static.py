"""The static metabolic service against in-process COBRApy on the same shipped models."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import requests
from cobra.flux_analysis import flux_variability_analysis, pfba, single_gene_deletion

from support import metric_value
from support import MODELS

# Reference values from shared/DESIGN.md (GLPK); the tests also recompute each one in-process.
REFERENCE = {"default": 0.873922, "glucose_5": 0.415598, "anaerobic": 0.211663,
             "iMM904": 0.287866, "iMB155": 0.342393}


def post(url: str, path: str, body: dict, **kw) -> requests.Response:
    return requests.post(url + path, json=body, timeout=120, **kw)


def in_process(model, bounds=None, objective=None):
    with model:
        for rid, b in (bounds or {}).items():
            model.reactions.get_by_id(rid).bounds = b
        if objective:
            model.objective = objective
        return model.optimize()


def test_phase1_health(static_url):
    r = requests.get(static_url + "/health", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "healthy", "service": "static_metabolic"}


@pytest.mark.parametrize("bounds, key", [
    ({}, "default"),
    ({"EX_glc__D_e": [-5, 1000]}, "glucose_5"),
    ({"EX_o2_e": [0, 1000]}, "anaerobic"),
])
def test_ecoli_reference_values(static_url, ecoli, bounds, key):
    r = post(static_url, "/v1/fba", {"model": {"id": "e_coli_core"}, "bounds": bounds})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = in_process(ecoli, {k: tuple(v) for k, v in bounds.items()}).objective_value
    assert body["status"] == "optimal"
    assert body["objective_value"] == pytest.approx(expected, abs=1e-9)
    assert body["objective_value"] == pytest.approx(REFERENCE[key], abs=1e-6)
    assert body["objective"] == "BIOMASS_Ecoli_core_w_GAM"
    assert body["model"]["id"] == "e_coli_core" and len(body["model"]["sha256"]) == 64


def test_fluxes_are_a_valid_optimum(static_url, ecoli):
    """Alternative optima may differ flux by flux, so check what must hold: mass balance, bounds,
    and the objective flux equal to the in-process optimum."""
    body = post(static_url, "/v1/fba", {"model": {"id": "e_coli_core"}}).json()
    fluxes = body["fluxes"]
    assert set(fluxes) == {r.id for r in ecoli.reactions}
    for met in ecoli.metabolites:
        balance = sum(coef * fluxes[r.id] for r, coef in ((r, r.get_coefficient(met)) for r in met.reactions))
        assert abs(balance) < 1e-6, met.id
    for rxn in ecoli.reactions:
        assert rxn.lower_bound - 1e-6 <= fluxes[rxn.id] <= rxn.upper_bound + 1e-6
    assert fluxes["BIOMASS_Ecoli_core_w_GAM"] == pytest.approx(ecoli.slim_optimize(), abs=1e-9)


@pytest.mark.parametrize("model_id", ["iMM904", "iMB155"])
def test_other_shipped_models(static_url, cobra_models, model_id):
    body = post(static_url, "/v1/fba", {"model": {"id": model_id}, "fluxes": []}).json()
    assert body["objective_value"] == pytest.approx(cobra_models[model_id].slim_optimize(), abs=1e-9)
    assert body["objective_value"] == pytest.approx(REFERENCE[model_id], abs=1e-6)
    assert body["fluxes"] == {}


def test_pfba_matches_in_process(static_url, ecoli):
    body = post(static_url, "/v1/fba", {"model": {"id": "e_coli_core"}, "method": "pfba"}).json()
    ref = pfba(ecoli)
    assert body["method"] == "pfba"
    assert body["flux_sum"] == pytest.approx(ref.objective_value, rel=1e-7)
    assert body["objective_value"] == pytest.approx(ecoli.slim_optimize(), abs=1e-9)
    assert sum(abs(v) for v in body["fluxes"].values()) == pytest.approx(ref.objective_value, rel=1e-6)


def test_fva_matches_in_process(static_url, ecoli):
    reactions = ["PGI", "PFK", "EX_ac_e", "EX_o2_e", "SUCDi", "PDH"]
    body = post(static_url, "/v1/fva", {"model": {"id": "e_coli_core"}, "reactions": reactions,
                                         "fraction_of_optimum": 0.9}).json()
    ref = flux_variability_analysis(ecoli, reactions, fraction_of_optimum=0.9, processes=1)
    assert body["status"] == "optimal"
    assert list(body["ranges"]) == reactions
    for rid in reactions:
        assert body["ranges"][rid]["minimum"] == pytest.approx(ref.loc[rid, "minimum"], abs=1e-6)
        assert body["ranges"][rid]["maximum"] == pytest.approx(ref.loc[rid, "maximum"], abs=1e-6)


def test_all_single_gene_deletions_match_cobra(static_url, ecoli):
    body = post(static_url, "/v1/knockouts", {"model": {"id": "e_coli_core"}, "genes": "all"}).json()
    ref = single_gene_deletion(ecoli, processes=1)
    expected = {next(iter(ids)): (growth, status) for ids, growth, status in
                zip(ref["ids"], ref["growth"], ref["status"])}
    assert len(body["results"]) == len(ecoli.genes) == 137
    for row in body["results"]:
        growth, status = expected[row["genes"][0]]
        assert row["status"] == status
        if status == "optimal":
            assert row["growth"] == pytest.approx(growth, abs=1e-6), row["id"]
    assert body["wild_type_growth"] == pytest.approx(REFERENCE["default"], abs=1e-6)


def test_knockout_sets_and_reactions(static_url, ecoli):
    body = post(static_url, "/v1/knockouts", {"model": {"id": "e_coli_core"}, "reactions": ["PGI"],
                                               "sets": [{"genes": ["b0726", "b0727"]}]}).json()
    with ecoli:
        ecoli.reactions.PGI.knock_out()
        pgi = ecoli.slim_optimize()
    with ecoli:
        ecoli.genes.b0726.knock_out()
        ecoli.genes.b0727.knock_out()
        pair = ecoli.slim_optimize()
    assert [r["id"] for r in body["results"]] == ["PGI", "b0726+b0727"]
    assert body["results"][0]["growth"] == pytest.approx(pgi, abs=1e-9)
    assert body["results"][1]["growth"] == pytest.approx(pair, abs=1e-9)


def test_infeasible_is_an_answer_not_an_error(static_url):
    r = post(static_url, "/v1/fba", {"model": {"id": "e_coli_core"}, "bounds": {"ATPM": [500, 1000]}})
    assert r.status_code == 200
    assert r.json()["status"] == "infeasible"
    assert r.json()["objective_value"] is None
    r = post(static_url, "/compute/metabolic", {"chassis_type": "ecoli", "constraints": {"ATPM": [500, 1000]}})
    assert r.status_code == 200 and r.json()["status"] == "infeasible"


@pytest.mark.parametrize("chassis, model_id", [("ecoli", "e_coli_core"), ("yeast", "iMM904"),
                                                ("syn3a", "iMB155"), ("minimal_cell", "iMB155"),
                                                ("base", "iMB155"), ("orthogonal", "e_coli_core")])
def test_phase1_metabolic_contract(static_url, cobra_models, chassis, model_id):
    r = post(static_url, "/compute/metabolic", {"chassis_type": chassis, "vm_id": "ecoli_vm_1",
                                                 "process_code": "metabolic_growth"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["computation_type"] == "static_metabolic"
    assert body["computation_service"] == "centralized_cobrapy"
    assert body["execution_result"] == "computed_state"
    assert body["status"] == "optimal"
    assert body["model_key"] == model_id
    assert body["optimal_objective"] == pytest.approx(cobra_models[model_id].slim_optimize(), abs=1e-9)
    assert set(body["flux_state"]) == {r.id for r in cobra_models[model_id].reactions}


def test_phase1_defaults_to_base_chassis_and_falls_back_to_model_objective(static_url, cobra_models):
    body = post(static_url, "/compute/metabolic", {}).json()
    assert body["model_key"] == "iMB155"  # base -> the minimal cell
    assert body["objective"] == "EX_biomass_c"  # BIOMASS_Ecoli_core_w_GAM is not in iMB155
    assert body["optimal_objective"] == pytest.approx(REFERENCE["iMB155"], abs=1e-6)


def test_phase1_constraints_and_objective(static_url, ecoli):
    body = post(static_url, "/compute/metabolic", {
        "chassis_type": "ecoli", "objective": "EX_ac_e", "constraints": {"EX_glc__D_e": [-5, 1000]}}).json()
    expected = in_process(ecoli, {"EX_glc__D_e": (-5, 1000)}, "EX_ac_e").objective_value
    assert body["objective"] == "EX_ac_e"
    assert body["optimal_objective"] == pytest.approx(expected, abs=1e-9)


def test_model_path_is_refused(static_url):
    r = post(static_url, "/compute/metabolic", {"model_path": "/etc/passwd"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "model_path_not_allowed"
    assert "never read from a server path" in error["message"]
    assert error["request_id"] == r.headers["X-Request-ID"]


@pytest.mark.parametrize("body, code, phrase", [
    ({"model": {"id": "e_coli_core"}, "bounds": {"NOPE": [0, 1]}}, "unknown_reaction", "'NOPE'"),
    ({"model": {"id": "e_coli_core"}, "objective": "NOPE"}, "unknown_reaction", "'NOPE'"),
    ({"model": {"id": "e_coli_core"}, "knockouts": {"genes": ["b9999"]}}, "unknown_gene", "'b9999'"),
    ({"model": {"id": "e_coli_core"}, "bounds": {"PGI": [5, 1]}}, "invalid_request", "above upper bound"),
    ({"model": {"id": "e_coli_core"}, "medium": {"PGI": 1}}, "invalid_request", "not exchange"),
    ({"model": {"id": "ecoli_core"}}, "unknown_model", "shipped models"),
    ({"model": {"id": "e_coli_core"}, "method": "moma"}, "invalid_request", "method must be one of"),
    ({"model": {"id": "e_coli_core"}, "bogus": 1}, "invalid_request", "unknown field"),
])
def test_v1_errors_name_the_problem(static_url, body, code, phrase):
    r = post(static_url, "/v1/fba", body)
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"] == code
    assert phrase in r.json()["error"]["message"]


def test_models_listing(static_url, cobra_models):
    models = {m["id"]: m for m in requests.get(static_url + "/v1/models", timeout=30).json()["models"]}
    assert set(models) == {"e_coli_core", "iMM904", "iMB155"}
    for mid, m in models.items():
        ref = cobra_models[mid]
        assert (m["reactions"], m["metabolites"], m["genes"]) == (
            len(ref.reactions), len(ref.metabolites), len(ref.genes))
    assert "ecoli" in models["e_coli_core"]["chassis"]
    detail = requests.get(static_url + "/v1/models/e_coli_core", timeout=30).json()
    assert detail["medium"] == pytest.approx(cobra_models["e_coli_core"].medium)
    assert {e["id"] for e in detail["exchange_reactions"]} == {r.id for r in cobra_models["e_coli_core"].exchanges}
    assert detail["reaction_ids"] == [r.id for r in cobra_models["e_coli_core"].reactions]
    assert detail["gene_ids"] == [g.id for g in cobra_models["e_coli_core"].genes]
    assert requests.get(static_url + "/v1/models/nope", timeout=30).status_code == 404


def test_no_state_leaks_between_requests(static_single, ecoli):
    """Bounds, objectives, media and knockouts of one request are never seen by the next."""
    url = static_single.url
    default = ecoli.slim_optimize()
    changed = [
        {"bounds": {"EX_glc__D_e": [-1, 1000]}},
        {"objective": "EX_ac_e"},
        {"knockouts": {"genes": ["b2779"], "reactions": ["PGK"]}},
        {"medium": {"EX_glc__D_e": 2, "EX_o2_e": 5, "EX_nh4_e": 10, "EX_pi_e": 10, "EX_h2o_e": 100, "EX_h_e": 100}},
        {"method": "pfba", "bounds": {"ATPM": [20, 1000]}},
    ]
    for change in changed:
        first = post(url, "/v1/fba", {"model": {"id": "e_coli_core"}, **change})
        assert first.status_code == 200
        assert first.json()["objective_value"] != pytest.approx(default, abs=1e-6)
        after = post(url, "/v1/fba", {"model": {"id": "e_coli_core"}}).json()
        assert after["objective_value"] == pytest.approx(default, abs=1e-9), change
        assert after["objective"] == "BIOMASS_Ecoli_core_w_GAM"
    # an invalid request changes nothing either
    post(url, "/v1/fba", {"model": {"id": "e_coli_core"}, "bounds": {"PGI": [0, 0], "NOPE": [0, 1]}})
    assert post(url, "/v1/fba", {"model": {"id": "e_coli_core"}}).json()["objective_value"] == \
        pytest.approx(default, abs=1e-9)


def test_inline_sbml_is_parsed_once_and_addressable_by_sha256(static_single, ecoli):
    url = static_single.url
    text = MODELS["e_coli_core"].read_text().replace('id="e_coli_core"', 'id="e_coli_core_upload"', 1)
    before = requests.get(url + "/metrics", timeout=10).text
    first = post(url, "/v1/fba", {"model": {"sbml": text}}).json()
    second = post(url, "/v1/fba", {"model": {"sbml": text}, "bounds": {"EX_glc__D_e": [-5, 1000]}}).json()
    by_hash = post(url, "/v1/fba", {"model": {"sha256": first["model"]["sha256"]}}).json()
    after = requests.get(url + "/metrics", timeout=10).text
    assert first["model"]["id"] == "e_coli_core_upload"
    assert first["objective_value"] == pytest.approx(ecoli.slim_optimize(), abs=1e-9)
    assert second["objective_value"] == pytest.approx(REFERENCE["glucose_5"], abs=1e-6)
    assert by_hash["objective_value"] == pytest.approx(first["objective_value"], abs=1e-12)
    misses = metric_value(after, "bioxen_model_cache_misses_total", source="inline") - \
        metric_value(before, "bioxen_model_cache_misses_total", source="inline")
    hits = metric_value(after, "bioxen_model_cache_hits_total", source="inline") - \
        metric_value(before, "bioxen_model_cache_hits_total", source="inline")
    assert (misses, hits) == (1, 1)
    unknown = post(url, "/v1/fba", {"model": {"sha256": "0" * 64}})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_cached"


@pytest.mark.slow
def test_gzip_genome_scale_upload(static_single, cobra_models):
    """iMM904 (7 MB of SBML) sent inline and gzip-encoded, as a client uploading its own model would."""
    body = json.dumps({"model": {"sbml": MODELS["iMM904"].read_text()}, "fluxes": ["BIOMASS_SC5_notrace"]})
    r = requests.post(static_single.url + "/v1/fba", data=gzip.compress(body.encode()), timeout=300,
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json()["objective_value"] == pytest.approx(REFERENCE["iMM904"], abs=1e-6)
    assert r.json()["fluxes"]["BIOMASS_SC5_notrace"] == pytest.approx(REFERENCE["iMM904"], abs=1e-6)


def test_metrics_use_endpoint_templates(static_url):
    requests.get(static_url + "/v1/models/e_coli_core", timeout=30)
    text = requests.get(static_url + "/metrics", timeout=10).text
    assert metric_value(text, "bioxen_http_requests_total", endpoint="/v1/models/<model_id>") >= 1
    assert "e_coli_core\"" not in text.split("bioxen_http_requests_total")[1].split("\n# ")[0]
    assert metric_value(text, "bioxen_computations_total", kind="fba", status="optimal") >= 1
    assert metric_value(text, "bioxen_ready", service="static") >= 1


def test_openapi_document(static_url):
    doc = requests.get(static_url + "/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/compute/metabolic", "/v1/fba", "/v1/fva", "/v1/knockouts", "/v1/models", "/health"):
        assert path in doc["paths"]


def test_cobras_own_reason_for_an_unreadable_model(static_url):
    """cobra wraps the cause in "Something went wrong reading the SBML model"; the 400 says the cause."""
    text = MODELS["e_coli_core"].read_text().replace(
        'id="R_PFK" fast="false" reversible="false" name="Phosphofructokinase" metaid="R_PFK" '
        'sboTerm="SBO:0000176" fbc:upperFluxBound="cobra_default_ub"',
        'id="R_PFK" fast="false" reversible="false" name="Phosphofructokinase" metaid="R_PFK" '
        'sboTerm="SBO:0000176" fbc:upperFluxBound="cobra_default_lb"', 1)
    r = post(static_url, "/v1/fba", {"model": {"sbml": text}})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "lower bound must be less than or equal to the upper bound" in message, message
    assert "Something went wrong" not in message


def test_loopless_fva_that_cobra_cannot_finish_is_a_422_with_its_reason(static_url):
    """Found by the container suite: cobra's loopless FVA of e_coli_core at fraction 1.0 sets a bound a
    rounding error below another (8.39 <= 8.389999999999857) and raises; that was a 500."""
    r = post(static_url, "/v1/fva", {"model": {"id": "e_coli_core"}, "loopless": True})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "computation_failed"
    assert "lower bound must be less than or equal to the upper bound" in error["message"]
