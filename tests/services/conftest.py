"""In-process reference engines on the same shipped files the services load, loaded once per run."""

from __future__ import annotations

import cobra
import pytest
import roadrunner

from support import BYTECODE, MODELS, ServiceProcess


@pytest.fixture(scope="session")
def cobra_models() -> dict[str, cobra.Model]:
    """Reference cobra models, read independently of the service code."""
    cobra.Configuration().solver = "glpk"
    return {name: cobra.io.read_sbml_model(str(path)) for name, path in MODELS.items()}


@pytest.fixture()
def ecoli(cobra_models) -> cobra.Model:
    return cobra_models["e_coli_core"]


def reference_roadrunner(program: str) -> roadrunner.RoadRunner:
    """A fresh RoadRunner for a shipped program, built the way a user would in their own process."""
    if program == "gene_expression":
        import tellurium as te

        return te.loada((BYTECODE / "kinetic" / "gene_expression.ant").read_text())
    files = {"repressilator": "BIOMD0000000012.xml", "teusink_glycolysis": "BIOMD0000000064.xml",
             "chassagnole_central_carbon": "BIOMD0000000051.xml", "kholodenko_mapk": "BIOMD0000000010.xml"}
    return roadrunner.RoadRunner(str(BYTECODE / "kinetic" / files[program]))


@pytest.fixture(scope="module")
def static_single():
    """A one-worker static service, so cache and isolation checks see one worker's state."""
    with ServiceProcess("static", workers=1, preload="e_coli_core") as proc:
        yield proc


@pytest.fixture(scope="module")
def dynamic_single():
    with ServiceProcess("dynamic", workers=1) as proc:
        yield proc


def metric_value(text: str, name: str, **labels) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` in a Prometheus exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
