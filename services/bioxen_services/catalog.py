"""``GET /v1/models`` and ``GET /v1/models/{model_id}``: the shipped models of a service. Each is described
by the manifest (``describe_entry(plane, model_id)``, in the front) and by the compiled model
(``describe_engine(engine, detail)``, a module-level function run in an engine process)."""

from __future__ import annotations

from typing import Callable

from pydantic import BaseModel

from .api.operations import CATALOG_ERRORS, ApiBlueprint
from .errors import UnknownModel
from .modelref import ModelRef


def add_catalog_routes(bp: ApiBlueprint, describe_entry: Callable[..., dict], describe_engine: Callable[..., dict],
                       *, listing: type[BaseModel], detail: type[BaseModel], kind: str, example: str) -> None:
    def entry(plane, model_id: str, detailed: bool) -> dict:
        if model_id not in plane.model_ids():
            raise UnknownModel(f"unknown model id {model_id!r}; shipped models: {sorted(plane.model_ids())}")
        shape = plane.compute("describe", describe_engine, ModelRef("id", model_id), detailed)
        model = shape.pop("model")
        return {"id": model_id, "sha256": model["sha256"], **describe_entry(plane, model_id), **shape}

    @bp.operation("get", "/v1/models", answer=listing, summary=f"the shipped {kind}s", tag="models",
                  errors=CATALOG_ERRORS)
    def list_models(plane):
        return {"models": [entry(plane, model_id, False) for model_id in plane.model_ids()]}

    @bp.operation("get", "/v1/models/{model_id}", answer=detail, summary=f"one shipped {kind}, in detail",
                  tag="models", errors=CATALOG_ERRORS,
                  parameters={"model_id": (f"a shipped {kind} id (see GET /v1/models)", example)})
    def get_model(plane, model_id: str):
        return entry(plane, model_id, True)
