"""Fixtures of the reliability tests: real services with small limits (so the limits are cheap
to reach), and the in-process engines' answers to the valid reference requests."""

from __future__ import annotations

import pytest

from reliability_helpers import LIMITS, VALID_SIMULATE, RecordingHTTPServer, gene_expression_rr
from support import MODELS, ServiceProcess

@pytest.fixture(scope="session")
def limited_static():
    """The static service, 2 workers, small limits, e_coli_core preloaded."""
    with ServiceProcess("static", host="127.0.0.21", workers=2, env=LIMITS, preload="e_coli_core") as proc:
        yield proc


@pytest.fixture(scope="session")
def limited_dynamic():
    """The dynamic service, 2 workers, small limits, the gene-expression program preloaded."""
    with ServiceProcess("dynamic", host="127.0.0.21", workers=2, env=LIMITS, preload="gene_expression") as proc:
        yield proc


def cobra_growth(model_id: str) -> float:
    """FBA growth of a shipped model computed in this process by cobra with GLPK."""
    import cobra

    model = cobra.io.read_sbml_model(str(MODELS[model_id]))
    model.solver = "glpk"
    return model.slim_optimize()


@pytest.fixture(scope="session")
def ecoli_growth() -> float:
    """0.873922 in DESIGN.md."""
    return cobra_growth("e_coli_core")


@pytest.fixture(scope="session")
def imm904_growth() -> float:
    """0.287866 in DESIGN.md."""
    return cobra_growth("iMM904")


@pytest.fixture(scope="session")
def gene_expression_final() -> dict[str, float]:
    """Final mRNA and protein of simulate(0, 10, 100) by libRoadRunner in this process."""
    rr = gene_expression_rr()
    body = VALID_SIMULATE[1]
    data = rr.simulate(body["start"], body["end"], body["points"], ["time", "[mRNA]", "[protein]"])
    return {"mRNA": float(data[-1, 1]), "protein": float(data[-1, 2])}


@pytest.fixture(scope="session")
def web_trap():
    with RecordingHTTPServer() as server:
        yield server
