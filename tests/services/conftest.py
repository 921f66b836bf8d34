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


#: the shipped model each service's documented examples compute on, loaded before the service is ready
EXAMPLE_MODELS = {"static": "e_coli_core", "dynamic": "gene_expression"}


@pytest.fixture(scope="session", params=tuple(EXAMPLE_MODELS))
def guarded_service(request) -> ServiceProcess:
    """Each service with a bearer token configured (``proc.env["BIOXEN_API_TOKEN"]``), one at a time: what
    its API description (/openapi.json, /docs) promises is checked against it."""
    service = request.param
    with ServiceProcess(service, workers=1, preload=EXAMPLE_MODELS[service],
                        env={"BIOXEN_API_TOKEN": f"{service}-api-description-token"}) as proc:
        yield proc
