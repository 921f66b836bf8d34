"""In-process reference engines on the same shipped files the services load, loaded once per run."""

from __future__ import annotations

import cobra
import pytest

from support import MODELS, ServiceProcess


@pytest.fixture(scope="session")
def cobra_models() -> dict[str, cobra.Model]:
    """Reference cobra models, read independently of the service code."""
    cobra.Configuration().solver = "glpk"
    return {name: cobra.io.read_sbml_model(str(path)) for name, path in MODELS.items()}


@pytest.fixture()
def ecoli(cobra_models) -> cobra.Model:
    return cobra_models["e_coli_core"]


@pytest.fixture(scope="module")
def static_single():
    """A one-worker static service, so cache and isolation checks see one worker's state."""
    with ServiceProcess("static", workers=1, preload="e_coli_core") as proc:
        yield proc


@pytest.fixture(scope="module")
def dynamic_single():
    with ServiceProcess("dynamic", workers=1) as proc:
        yield proc
