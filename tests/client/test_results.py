"""Typed results (:mod:`bioxen_vm.results`) from the real services: each is the service's JSON unchanged
(a dict), and its pandas accessors carry the same numbers as cobra / libRoadRunner in this process.
Progress bars of the fan-outs: shown on a terminal, not in a pod, not when asked for none."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
from cobra.flux_analysis import flux_variability_analysis, single_gene_deletion

from bioxen_vm.results import (DfbaResult, FbaResult, FvaResult, KnockoutResult, ScanResult, SteadyStateResult,
                               Trajectory)

TOL = 1e-6


def test_fba_result_is_the_json_with_a_fluxes_series(client, reference_ecoli):
    result = client.fba("e_coli_core")
    raw = client.post("static", "/v1/fba", {"model": {"id": "e_coli_core"}})
    assert isinstance(result, FbaResult) and isinstance(result, dict)
    assert json.loads(json.dumps(result)) == raw == result.json and type(result.json) is dict
    expected = reference_ecoli.optimize()
    assert result.objective_value == pytest.approx(expected.objective_value, abs=TOL)
    assert result.status == expected.status == "optimal"
    fluxes = result.fluxes
    assert fluxes.name == expected.fluxes.name == "fluxes"
    assert sorted(fluxes.index) == sorted(expected.fluxes.index) and fluxes.dtype == float
    assert fluxes.to_dict() == raw["fluxes"]
    assert list(result.to_frame().columns) == ["fluxes"]
    assert list(result.keys()) == list(raw) and result.values() is not None  # dict methods intact


def test_fva_frame_matches_cobra(client, reference_ecoli):
    reactions = [r.id for r in reference_ecoli.reactions[:12]]
    result = client.fva("e_coli_core", reactions, fraction_of_optimum=0.9, chunk_size=5, progress=False)
    expected = flux_variability_analysis(reference_ecoli, reactions, fraction_of_optimum=0.9, processes=1)
    frame = result.to_frame()
    assert isinstance(result, FvaResult) and result["chunks"] == 3
    assert list(frame.columns) == ["minimum", "maximum"] and list(frame.index) == reactions
    assert frame.index.name == "reaction"
    np.testing.assert_allclose(frame.to_numpy(), expected.loc[reactions, ["minimum", "maximum"]].to_numpy(),
                               atol=TOL)


def test_knockout_frame_matches_cobra(client, reference_ecoli):
    genes = [g.id for g in reference_ecoli.genes[:8]]
    result = client.knockouts("e_coli_core", genes=genes, chunk_size=3, progress=False)
    expected = single_gene_deletion(reference_ecoli, genes, processes=1)
    wild = reference_ecoli.slim_optimize()
    frame = result.to_frame()
    assert isinstance(result, KnockoutResult) and list(frame.index) == genes
    assert list(frame.columns) == ["ids", "growth", "relative_growth", "status"]
    for gene in genes:
        growth = expected.knockout[gene]["growth"].iloc[0]
        assert frame.loc[gene, "ids"] == (gene,)
        assert frame.loc[gene, "growth"] == pytest.approx(growth, abs=TOL)
        assert frame.loc[gene, "relative_growth"] == pytest.approx(growth / wild, abs=TOL)
        assert frame.loc[gene, "status"] == expected.knockout[gene]["status"].iloc[0]


def test_trajectory_frame_is_indexed_by_time_and_matches_roadrunner(client, reference_rr):
    result = client.simulate("gene_expression", end=10, points=11)
    expected = reference_rr.simulate(0, 10, 11, ["time", "[mRNA]", "[protein]"])
    frame = result.to_frame()
    assert isinstance(result, Trajectory) and not result.is_ensemble
    assert frame.index.name == "time" and list(frame.columns) == ["mRNA", "protein"]
    np.testing.assert_allclose(frame.index.to_numpy(), expected[:, 0])
    np.testing.assert_allclose(frame.to_numpy(), expected[:, 1:], rtol=1e-5, atol=1e-9)


def test_ensemble_frame_has_mean_and_sd(client):
    result = client.simulate("gene_expression", end=10, points=6, integrator="gillespie", repetitions=4, seed=7)
    frame = result.to_frame()
    assert result.is_ensemble and result["species_values"] == "amounts"  # Gillespie counts molecules
    assert list(frame.columns.levels[0]) == ["mean", "sd"]
    np.testing.assert_array_equal(frame["mean"]["mRNA"].to_numpy(), result["mean"]["mRNA"])
    np.testing.assert_array_equal(result.sd["protein"].to_numpy(), result["sd"]["protein"])


def test_scan_frame_one_row_per_grid_point(client, reference_rr):
    grid = {"k_translation": [0.1, 0.3], "k_protein_decay": [0.01, 0.02, 0.05]}
    result = client.scan("gene_expression", grid, end=5, points=6)
    frame = result.to_frame()
    assert isinstance(result, ScanResult) and frame.index.names == list(grid)
    assert len(frame) == 6 and list(frame.columns) == ["mRNA", "protein"]
    reference_rr.resetAll()
    reference_rr.setValue("k_translation", 0.3)
    reference_rr.setValue("k_protein_decay", 0.05)
    last = reference_rr.simulate(0, 5, 6, ["time", "[protein]"])[-1, 1]
    assert frame.loc[(0.3, 0.05), "protein"] == pytest.approx(last, rel=1e-5)
    one = client.scan("gene_expression", {"k_translation": [0.1, 0.2]}, end=5, points=3, output="trajectories")
    long = one.to_frame()
    assert long.index.names == ["k_translation", "time"] and len(long) == 6
    np.testing.assert_array_equal(long.loc[0.2]["protein"].to_numpy(), one["trajectories"][1]["protein"])


def test_steady_state_series(client):
    model = {"antimony": "model ss\n  J0: -> S; k0\n  J1: S -> ; k1*S\n  k0 = 2; k1 = 0.5; S = 0\nend"}
    result = client.steady_state(model)
    assert isinstance(result, SteadyStateResult)
    assert result.steady_state["S"] == pytest.approx(2 / 0.5, rel=1e-6) == result["steady_state"]["S"]
    assert result.reaction_rates.to_dict() == pytest.approx(result["reaction_rates"])


def test_dfba_frame(client):
    result = client.dfba("e_coli_core", biomass=0.05, concentrations={"EX_glc__D_e": 10.0}, end=2, points=5)
    frame = result.to_frame()
    assert isinstance(result, DfbaResult) and frame.index.name == "time"
    assert list(frame.columns[:3]) == ["biomass", "growth_rate", "EX_glc__D_e"]
    np.testing.assert_array_equal(frame["biomass"].to_numpy(), result["biomass"])
    assert result.fluxes.shape == (5, len(result["fluxes"]))


def test_accessors_without_pandas_say_how_to_install_it(client, monkeypatch):
    result = client.fba("e_coli_core")
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ImportError, match=r"pip install 'bioxen-vm\[pandas\]'"):
        result.fluxes
    assert result["fluxes"]  # the JSON needs no pandas


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("progress, pod, shown", [(None, False, True), (None, True, False), (False, False, False)])
def test_fan_out_progress_bar(client, monkeypatch, progress, pod, shown):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    if pod:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    else:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    client.knockouts("e_coli_core", genes=["b0008", "b0114", "b0116"], chunk_size=1, progress=progress)
    assert ("knockouts" in terminal.getvalue() and "3/3" in terminal.getvalue()) is shown


def test_fan_out_progress_callable(client):
    calls = []
    client.scan("gene_expression", {"k_translation": [0.1, 0.2, 0.3]}, end=2, points=3, chunk_size=1,
                progress=lambda done, total: calls.append((done, total)))
    assert sorted(calls) == [(1, 3), (2, 3), (3, 3)]
