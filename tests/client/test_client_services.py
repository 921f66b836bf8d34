"""The client against the real services (a front and 2 engine processes each): every number compared with cobra
or libRoadRunner run in this process on the same shipped files; chunked batches equal the whole."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from cobra.flux_analysis import flux_variability_analysis, pfba, single_gene_deletion

from bioxen_vm import ClientRequestError
from bioxen_vm.client import GZIP_THRESHOLD_BYTES, load_model_file
from client_support import metric_value
from support import MODELS

TOL = 1e-6


def test_fba_and_pfba_equal_cobra_in_process(client, reference_ecoli):
    assert client.fba("e_coli_core")["objective_value"] == pytest.approx(reference_ecoli.slim_optimize(), abs=TOL)
    with reference_ecoli:
        reference_ecoli.reactions.EX_o2_e.lower_bound = 0
        anaerobic = reference_ecoli.slim_optimize()
    result = client.fba("e_coli_core", bounds={"EX_o2_e": (0, 1000)})
    assert result["objective_value"] == pytest.approx(anaerobic, abs=TOL) and anaerobic == pytest.approx(0.211663, abs=TOL)
    expected = pfba(reference_ecoli)
    got = client.pfba("e_coli_core")
    assert got["flux_sum"] == pytest.approx(expected.objective_value, rel=1e-6)
    assert got["fluxes"] == pytest.approx(expected.fluxes.to_dict(), abs=1e-5)


def test_fva_chunked_over_endpoints_equals_cobra(client, reference_ecoli):
    reactions = [r.id for r in reference_ecoli.reactions[:40]]
    progress = []
    result = client.fva("e_coli_core", reactions, fraction_of_optimum=0.9, chunk_size=7,
                        progress=lambda done, total: progress.append((done, total)))
    expected = flux_variability_analysis(reference_ecoli, reactions, fraction_of_optimum=0.9, processes=1)
    assert list(result["ranges"]) == reactions and result["chunks"] == 6
    for rid in reactions:
        assert result["ranges"][rid]["minimum"] == pytest.approx(expected.loc[rid, "minimum"], abs=1e-6)
        assert result["ranges"][rid]["maximum"] == pytest.approx(expected.loc[rid, "maximum"], abs=1e-6)
    assert progress[-1] == (40, 40)


def test_knockouts_chunked_equal_cobra_single_gene_deletion(client, reference_ecoli):
    genes = sorted(g.id for g in reference_ecoli.genes)[:30]
    result = client.knockouts("e_coli_core", genes=genes, chunk_size=8)
    expected = single_gene_deletion(reference_ecoli, genes, processes=1)
    by_gene = {next(iter(ids)): growth for ids, growth in zip(expected["ids"], expected["growth"])}
    assert [r["id"] for r in result["results"]] == genes
    for r in result["results"]:
        want = by_gene[r["id"]]
        assert (r["growth"] or 0.0) == pytest.approx(0.0 if np.isnan(want) else want, abs=TOL)


def test_inline_sbml_over_64kb_goes_gzipped_by_hash_then_text(client, static_service):
    model = load_model_file(MODELS["e_coli_core"])
    assert len(model["sbml"]) > GZIP_THRESHOLD_BYTES
    metrics_before = requests.get(static_service.url + "/metrics", timeout=5).text
    results = [client.fba(model)["objective_value"] for _ in range(4)]
    assert results == pytest.approx([0.873922] * 4, abs=TOL)
    after = requests.get(static_service.url + "/metrics", timeout=5).text
    # the shipped model has the same text, so the hash is known and no inline text had to be parsed
    hits = (metric_value(after, "bioxen_model_cache_hits_total", source="sha256")
            - metric_value(metrics_before, "bioxen_model_cache_hits_total", source="sha256"))
    assert hits == 4


def test_simulate_inline_antimony_equals_roadrunner_in_process(client, reference_rr, gene_expression_text):
    reference = reference_rr.simulate(0, 20, 51, ["time", "[mRNA]", "[protein]"])
    for _ in range(3):  # first by hash (miss on some worker), then text; later hits
        got = client.simulate({"antimony": gene_expression_text}, end=20, points=51)
        assert got["time"] == pytest.approx(list(reference[:, 0]))
        assert got["trajectories"]["mRNA"] == pytest.approx(list(reference[:, 1]), rel=1e-6, abs=1e-9)
        assert got["trajectories"]["protein"] == pytest.approx(list(reference[:, 2]), rel=1e-6, abs=1e-9)


def test_steady_state_equals_roadrunner(client, reference_rr):
    reference_rr.steadyState()
    got = client.steady_state("gene_expression")
    assert got["steady_state"]["protein"] == pytest.approx(reference_rr["[protein]"], rel=1e-6)


def test_scan_chunked_equals_unchunked_and_roadrunner(client, reference_rr):
    grid = {"k_transcription": [0.05, 0.1, 0.2], "k_translation": [0.1, 0.2, 0.3, 0.4]}
    chunked = client.scan("gene_expression", grid, end=10, points=20, chunk_size=5)
    whole = client.scan("gene_expression", grid, end=10, points=20, chunk_size=1000)
    assert chunked["chunks"] == 3 and whole["chunks"] == 1
    assert chunked["points"] == whole["points"] and list(chunked["final"]) == list(whole["final"])
    for species, values in whole["final"].items():
        assert chunked["final"][species] == pytest.approx(values)
    for (kt, kl), protein in zip(chunked["points"], chunked["final"]["protein"]):
        reference_rr.resetAll()
        reference_rr["k_transcription"], reference_rr["k_translation"] = kt, kl
        expected = reference_rr.simulate(0, 10, 20, ["time", "[protein]"])[-1, 1]
        assert protein == pytest.approx(expected, rel=1e-6)


def test_errors_carry_the_service_code_and_message(client):
    with pytest.raises(ClientRequestError) as info:
        client.fba("e_coli_core", objective="NOT_A_REACTION")
    assert info.value.status == 400 and info.value.code == "unknown_reaction"
    assert "NOT_A_REACTION" in info.value.message
    with pytest.raises(ClientRequestError) as info:
        client.simulate("no_such_program")
    assert (info.value.status, info.value.code) == (404, "unknown_model")


def test_phase1_methods_keep_their_field_names(client):
    static = client.request_static_computation({"chassis_type": "ecoli", "vm_id": "v1",
                                                "process_code": "metabolic_x"})
    assert {"computation_type", "status", "optimal_objective", "flux_state", "computation_service",
            "vm_id", "process_code", "execution_result"} <= set(static)
    assert static["optimal_objective"] == pytest.approx(0.873922, abs=TOL)
    assert static["computation_service"] == "centralized_cobrapy"
    dynamic = client.request_dynamic_computation({"time_start": 0, "time_end": 10, "time_points": 100})
    assert {"computation_type", "status", "time_vector", "species_trajectories", "final_state", "species",
            "computation_service"} <= set(dynamic)
    assert dict(zip(dynamic["species"], dynamic["final_state"])) == pytest.approx(
        {"mRNA": 0.367166, "protein": 0.487050}, abs=TOL)
    assert client.check_service_health() == {"static_service": True, "dynamic_service": True}


DFBA = {"biomass": 0.05, "concentrations": {"EX_glc__D_e": 10, "EX_ac_e": 0},
        "uptake": {"EX_glc__D_e": {"vmax": 10, "km": 0.015}}, "end": 10, "points": 101}


def test_dfba_equals_the_engine_run_in_process(client, reference_ecoli):
    dfba = pytest.importorskip("bioxen_services.static.dfba_routes")
    from bioxen_services.static.dfba import run_dfba

    result = client.dfba("e_coli_core", **DFBA)
    from bioxen_services.api.static import DfbaRequest

    expected = run_dfba(reference_ecoli, dfba.problem(DfbaRequest.parse({"model": {"id": "e_coli_core"}, **DFBA}),
                                                      10_001))
    assert result["time"] == pytest.approx(expected["time"])
    assert result["biomass"] == pytest.approx(expected["biomass"], rel=1e-6)
    assert result["concentrations"]["EX_glc__D_e"] == pytest.approx(
        expected["concentrations"]["EX_glc__D_e"], rel=1e-6, abs=1e-9)
    assert result["biomass"][-1] > 10 * DFBA["biomass"]  # the culture grew on its glucose


def test_whole_model_fva_and_all_gene_deletions_fan_out(client, reference_ecoli):
    """No reaction list / genes="all" on a shipped model: the client asks for its ids once and splits the
    work like an explicit list, so whole-model batches spread over every replica too."""
    fva = client.fva("e_coli_core", chunk_size=20)
    reactions = [r.id for r in reference_ecoli.reactions]
    expected = flux_variability_analysis(reference_ecoli, processes=1)
    assert list(fva["ranges"]) == reactions and fva["chunks"] == 5  # 95 reactions
    for rid in reactions:
        assert fva["ranges"][rid]["minimum"] == pytest.approx(expected.loc[rid, "minimum"], abs=1e-6)
        assert fva["ranges"][rid]["maximum"] == pytest.approx(expected.loc[rid, "maximum"], abs=1e-6)
    deletions = client.knockouts("e_coli_core", genes="all", chunk_size=50)
    reference = single_gene_deletion(reference_ecoli, processes=1)
    growth = {next(iter(ids)): g for ids, g in zip(reference["ids"], reference["growth"])}
    assert deletions["chunks"] == 3 and [r["id"] for r in deletions["results"]] == [g.id for g in reference_ecoli.genes]
    for row in deletions["results"]:
        if row["status"] == "optimal":
            assert row["growth"] == pytest.approx(growth[row["id"]], abs=1e-6), row["id"]


def test_a_whole_inline_fva_without_a_job_store_is_one_request(client, static_url):
    """Without BIOXEN_REDIS_URL on the service, an inline model's whole FVA (which the client cannot
    split) falls back from a job to one synchronous request, with the same answer."""
    sbml = MODELS["e_coli_core"].read_text()
    via_client = client.fva({"sbml": sbml}, fraction_of_optimum=0.9)
    direct = requests.post(static_url + "/v1/fva", json={"model": {"sbml": sbml}, "fraction_of_optimum": 0.9},
                           timeout=120).json()
    assert via_client["ranges"] == direct["ranges"] and len(direct["ranges"]) == 95
