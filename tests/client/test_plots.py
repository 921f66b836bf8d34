"""Every kind of plot (:mod:`bioxen_vm.plots`) rendered to PNG from real answers of the real services, and
checked through matplotlib's objects for what it must show: axis labels with the model's units, legend
entries, non-empty data, the colorbar's label, the twin axis. ``bioxen ... --plot`` uses the same code and
says so, exiting non-zero, when a result cannot be drawn."""

from __future__ import annotations

import sys

import libsbml
import numpy as np
import pytest
from matplotlib.collections import PolyCollection, QuadMesh

from bioxen_vm.cli import main
from bioxen_vm.plots import PlotError, plot, save_plot
from support import BYTECODE

PNG = b"\x89PNG\r\n\x1a\n"


def _render(result, path, **options):
    figure = plot(result, path, **options)
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000
    return figure


def _legend(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _declared(program_file: str, definition: str) -> tuple[float, int]:
    """(multiplier, scale) of the one unit of a unit definition of a shipped SBML file."""
    document = libsbml.readSBMLFromString((BYTECODE / "kinetic" / program_file).read_text())
    unit = document.getModel().getUnitDefinition(definition).getUnit(0)
    return unit.getMultiplier(), unit.getScale()


def test_simulation_axes_carry_the_models_units(client, tmp_path):
    result = client.simulate("teusink_glycolysis", end=5, points=51, selections=["GLCi", "G6P"])
    ax = _render(result, tmp_path / "teusink.png").axes[0]
    assert _declared("BIOMD0000000064.xml", "time") == (60, 0)  # the file says minutes ...
    assert ax.get_xlabel() == "time (min)"                        # ... and so does the axis
    assert _declared("BIOMD0000000064.xml", "substance") == (1, -3)  # millimole, in litres
    assert ax.get_ylabel() == "concentration (mM)"
    assert _legend(ax) == ["GLCi", "G6P"]
    for line, name in zip(ax.get_lines(), ["GLCi", "G6P"]):
        np.testing.assert_array_equal(line.get_ydata(), result["trajectories"][name])


def test_gillespie_runs_are_amounts_not_concentrations(client, tmp_path):
    result = client.simulate("repressilator", end=20, points=21, integrator="gillespie", seed=3,
                             selections=["PX", "PY"])
    ax = _render(result, tmp_path / "gillespie.png").axes[0]
    assert result["units"]["quantity"] == "amount" and "concentration" not in ax.get_ylabel()
    assert ax.get_ylabel() == f"amount ({result['units']['values']['PX']})" == "amount (item)"
    assert ax.get_xlabel() == "time (min)"
    undeclared = client.simulate("gene_expression", end=200, points=101, integrator="gillespie", seed=3)
    ax = _render(undeclared, tmp_path / "ge.png").axes[0]
    assert ax.get_ylabel() == "amount (molecules)" and max(ax.get_lines()[1].get_ydata()) >= 1  # whole molecules


def test_ensemble_mean_with_sd_band(client, tmp_path):
    result = client.simulate("gene_expression", end=20, points=21, integrator="gillespie", repetitions=8, seed=5)
    ax = _render(result, tmp_path / "ensemble.png").axes[0]
    assert _legend(ax) == ["mRNA mean", "mRNA ±sd", "protein mean", "protein ±sd"]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 and all(len(b.get_paths()[0].vertices) > 20 for b in bands)
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), result["mean"]["protein"])
    assert "8" in ax.get_title() and ax.get_xlabel() == "time"  # gene_expression declares no units


def test_dfba_biomass_and_concentrations_on_their_own_axes(client, tmp_path):
    result = client.dfba("e_coli_core", biomass=0.05, concentrations={"EX_glc__D_e": 10.0}, end=6, points=13)
    figure = _render(result, tmp_path / "dfba.png")
    left, right = figure.axes
    assert left.get_xlabel() == "time (h)" and left.get_ylabel() == "biomass (gDW/L)"
    assert right.get_ylabel() == "concentration (mM)" and right.get_shared_x_axes().joined(left, right)
    np.testing.assert_array_equal(left.get_lines()[0].get_ydata(), result["biomass"])
    np.testing.assert_array_equal(right.get_lines()[0].get_ydata(), result["concentrations"]["EX_glc__D_e"])
    assert _legend(left) == ["biomass", "EX_glc__D_e"]


def test_fva_ranges_are_visible_at_fraction_one(client, tmp_path):
    result = client.fva("e_coli_core", fraction_of_optimum=1.0, progress=False)
    ax = _render(result, tmp_path / "fva.png").axes[0]
    fixed = {k for k, v in result["ranges"].items() if v["minimum"] == pytest.approx(v["maximum"], abs=1e-9)
             and abs(v["maximum"]) > 1e-9}
    assert fixed, "at the optimum most fluxes are fixed"
    markers = ax.get_lines()[0]
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert markers.get_marker() == "D" and len(markers.get_xdata()) > 0
    assert {shown[int(y)] for y in markers.get_ydata()} <= fixed
    assert 0 < len(shown) <= 30 and "of 95 reactions shown" in ax.get_title()
    assert ax.get_xlabel() == "flux (mmol/gDW/h)" and "fixed (minimum = maximum)" in _legend(ax)
    loose = client.fva("e_coli_core", ["PGI", "PFK", "EX_o2_e"], fraction_of_optimum=0.9, progress=False)
    bars = [p for p in _render(loose, tmp_path / "fva09.png").axes[0].patches if p.get_width() > 0]
    assert bars  # a real range is a bar of its width
    pgi = loose["ranges"]["PGI"]
    assert any(b.get_x() == pytest.approx(pgi["minimum"]) and b.get_width() == pytest.approx(
        pgi["maximum"] - pgi["minimum"]) for b in bars)


def test_knockout_growth_with_lethal_deletions_marked(client, tmp_path):
    genes = ["b0008", "b0114", "b0116", "b1136", "b2779", "b1779", "b0720"]
    result = client.knockouts("e_coli_core", genes=genes, progress=False)
    ax = _render(result, tmp_path / "knockouts.png").axes[0]
    frame = result.to_frame()
    lethal = set(frame.index[frame["relative_growth"].isna() | (frame["relative_growth"] < 0.01)])
    assert lethal and lethal != set(genes)  # the list has both kinds
    bars = {t.get_text(): p for t, p in zip(ax.get_yticklabels(), ax.patches)}
    assert set(bars) == set(genes)
    for gene, bar in bars.items():
        assert bar.get_width() == pytest.approx(0.0 if gene in lethal else frame.loc[gene, "relative_growth"])
        assert (bar.get_facecolor()[0] > 0.5) is (gene in lethal)  # red vs blue
    assert "lethal (< 1% of wild type)" in _legend(ax) and ax.get_xlabel() == "growth relative to the wild type"


def test_scan_lines_and_heatmap(client, tmp_path):
    line = client.scan("gene_expression", {"k_translation": [0.1, 0.2, 0.4]}, end=10, points=11)
    ax = _render(line, tmp_path / "scan1.png").axes[0]
    assert ax.get_xlabel() == "k_translation" and ax.get_ylabel() == "concentration at t = 10"
    assert _legend(ax) == ["mRNA", "protein"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), line["final"]["protein"])

    grid = {"KmPFKF6P": [0.5, 1.0, 2.0], "gR": [1.0, 3.0, 5.0, 7.0]}
    heat = client.scan("teusink_glycolysis", grid, end=2, points=3, selections=["F6P", "ATP"])
    figure = _render(heat, tmp_path / "scan2.png", selection="ATP")
    ax, bar = figure.axes
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    assert mesh.get_array().shape == (3, 4)
    np.testing.assert_allclose(np.asarray(mesh.get_array()).ravel(), heat["final"]["ATP"])
    unit = heat["units"]["values"]["ATP"]
    assert unit == "mM" and bar.get_ylabel() == f"ATP: concentration ({unit}) at t = 2 min"
    assert ax.get_xlabel() == f"gR ({heat['units']['values']['gR']})" and ax.get_ylabel() == "KmPFKF6P (mM)"


def test_fba_and_steady_state_bars(client, tmp_path):
    fba = client.pfba("e_coli_core")
    ax = _render(fba, tmp_path / "fba.png", top=10).axes[0]
    biggest = max(fba["fluxes"], key=lambda k: abs(fba["fluxes"][k]))
    assert len(ax.patches) == 10 and ax.get_yticklabels()[-1].get_text() == biggest
    assert ax.get_xlabel() == "flux (mmol/gDW/h)"
    steady = client.steady_state("chassagnole_central_carbon")
    ax = _render(steady, tmp_path / "ss.png").axes[0]
    assert ax.get_xlabel() == "concentration (mM)" and len(ax.patches) > 5


def test_what_cannot_be_drawn_says_why(client, tmp_path):
    grid = {"k_translation": [0.1, 0.2], "k_protein_decay": [0.01, 0.02], "k_mRNA_decay": [0.05, 0.1]}
    cube = client.scan("gene_expression", grid, end=2, points=3)
    with pytest.raises(PlotError, match="3 parameters"):
        save_plot(cube, tmp_path / "cube.png")
    assert not (tmp_path / "cube.png").exists()
    with pytest.raises(PlotError, match="not a selection"):
        plot(client.scan("gene_expression", {"k_translation": [0.1], "k_protein_decay": [0.01]}, end=2, points=3),
             selection="nothing")


def test_cli_plot_that_cannot_be_made_exits_non_zero(dynamic_url, static_url, tmp_path, capsys):
    target = tmp_path / "cube.png"
    code = main(["scan", "--dynamic-url", dynamic_url, "--grid", "k_translation=0.1,0.2",
                 "--grid", "k_protein_decay=0.01,0.02", "--grid", "k_mRNA_decay=0.05,0.1",
                 "--end", "2", "--points", "3", "--plot", str(target)])
    assert code != 0 and not target.exists()
    assert "cannot be drawn" in capsys.readouterr().err
    heat = tmp_path / "heat.png"
    assert main(["scan", "--dynamic-url", dynamic_url, "--grid", "k_translation=0.1,0.2",
                 "--grid", "k_protein_decay=0.01,0.02", "--end", "2", "--points", "3", "--plot", str(heat)]) == 0
    assert heat.read_bytes()[:8] == PNG
    knock = tmp_path / "knock.png"
    assert main(["knockouts", "--static-url", static_url, "--genes", "b0008,b0114", "--plot", str(knock)]) == 0
    assert knock.read_bytes()[:8] == PNG


def test_without_matplotlib_the_plot_says_how_to_install_it(client, tmp_path, monkeypatch):
    result = client.fba("e_coli_core")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import matplotlib.figure now fails
    with pytest.raises(ImportError, match=r"pip install 'bioxen-vm\[plot\]'"):
        result.plot(tmp_path / "fba.png")
    import bioxen_vm

    assert bioxen_vm.PlotError is PlotError and bioxen_vm.FbaResult is type(result)
