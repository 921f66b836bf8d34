"""``GET /v1/models`` and ``GET /v1/models/<id>``: the shipped models of a service. Each is described
by the manifest (``describe_entry(ctx, model_id)``, in the front) and by the compiled model
(``describe_engine(engine, detail)``, a module-level function run in an engine process)."""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, current_app

from .errors import UnknownModel
from .validation import ModelRef
from .web import json_response


def add_catalog_routes(bp: Blueprint, describe_entry: Callable[..., dict],
                       describe_engine: Callable[..., dict]) -> None:
    def entry(model_id: str, detail: bool) -> dict:
        ctx = current_app.extensions["bioxen"]
        if model_id not in ctx.model_ids():
            raise UnknownModel(f"unknown model id {model_id!r}; shipped models: {sorted(ctx.model_ids())}")
        shape = ctx.compute("describe", describe_engine, ModelRef("id", model_id), detail)
        model = shape.pop("model")
        return {"id": model_id, "sha256": model["sha256"], **describe_entry(ctx, model_id), **shape}

    @bp.get("/v1/models")
    def list_models():
        ctx = current_app.extensions["bioxen"]
        return json_response({"models": [entry(model_id, False) for model_id in ctx.model_ids()]})

    @bp.get("/v1/models/<model_id>")
    def get_model(model_id: str):
        return json_response(entry(model_id, True))
