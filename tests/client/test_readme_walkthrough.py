"""The README's notebook-style walk-through runs, block after block as a notebook would, against the real
services, and says what it claims (numbers compared with cobra in this process), so it cannot drift."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cobra.flux_analysis import flux_variability_analysis, single_gene_deletion

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Results as pandas, plots and progress: a notebook-style walk-through"
PNG = b"\x89PNG\r\n\x1a\n"


def walkthrough_blocks() -> list[str]:
    """The ```python blocks of the walk-through section, in order (the section ends at the next heading
    outside a code block)."""
    lines = README.read_text().splitlines(keepends=True)
    blocks: list[str] = []
    current: list[str] | None = None
    inside = False
    for line in lines[lines.index(SECTION + "\n") + 1:]:
        if line.startswith("```"):
            if current is not None:
                blocks.append("".join(current))
            current = [] if not inside and line.strip() == "```python" else None
            inside = not inside
        elif current is not None:
            current.append(line)
        elif not inside and line.startswith("#"):
            break
    return blocks


def test_the_section_has_the_five_steps():
    assert len(walkthrough_blocks()) == 5


@pytest.fixture()
def notebook(static_url, dynamic_url, monkeypatch, tmp_path):
    """The walk-through run in one namespace, in a fresh folder, the services found from the environment."""
    monkeypatch.setenv("BIOXEN_STATIC_URL", static_url)
    monkeypatch.setenv("BIOXEN_DYNAMIC_URL", dynamic_url)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in walkthrough_blocks():
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace, tmp_path


def test_the_walkthrough_runs_and_says_what_it_claims(notebook, reference_ecoli):
    ns, folder = notebook
    with reference_ecoli:
        reference_ecoli.reactions.EX_glc__D_e.lower_bound = -5
        expected = reference_ecoli.optimize()
    assert ns["growth"] == pytest.approx(expected.objective_value, abs=1e-6)
    assert isinstance(ns["fluxes"], pd.Series) and ns["fluxes"]["EX_glc__D_e"] == pytest.approx(-5)
    assert ns["glucose"] == ns["fluxes"]["EX_glc__D_e"] and (ns["active"].abs() > 1e-6).all()

    deletions = single_gene_deletion(reference_ecoli, processes=1)
    wild = reference_ecoli.slim_optimize()
    lethal = sorted(next(iter(ids)) for ids, growth in zip(deletions["ids"], deletions["growth"].fillna(0))
                    if growth < 0.01 * wild)
    assert ns["essential"] == lethal and len(ns["deletions"]) == len(reference_ecoli.genes)

    cobra_fva = flux_variability_analysis(reference_ecoli, fraction_of_optimum=0.95, processes=1)
    ranges = ns["ranges"]
    assert list(ranges.columns) == ["minimum", "maximum"] and len(ranges) == len(reference_ecoli.reactions)
    pd.testing.assert_frame_equal(ranges.sort_index(), cobra_fva.sort_index(), atol=1e-6, check_names=False)

    assert ns["units"]["time"] == "min" and ns["units"]["values"]["ATP"] == "mM"
    assert ns["table"].index.name == "time" and list(ns["table"].columns) == ["GLCi", "G6P", "ATP"]
    assert ns["grid"].shape == (4, 4)

    for name in ("knockouts.png", "fva.png", "glycolysis.png", "scan.png"):
        assert (folder / name).read_bytes()[:8] == PNG
