"""``GET /v1/models`` and ``GET /v1/models/<id>``: the shipped models of a service, each described by
the service's own ``describe(ctx, model_id, compiled, detail)``."""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, current_app

from .web import json_response

Describe = Callable[..., dict]


def add_catalog_routes(bp: Blueprint, describe: Describe) -> None:
    def entry(model_id: str, detail: bool) -> dict:
        ctx = current_app.extensions["bioxen"]
        compiled = ctx.shipped(model_id)  # an unknown id is a 404 naming the shipped ones
        return {"id": model_id, "sha256": compiled.sha256, **describe(ctx, model_id, compiled, detail)}

    @bp.get("/v1/models")
    def list_models():
        ctx = current_app.extensions["bioxen"]
        return json_response({"models": [entry(model_id, False) for model_id in ctx.store.ids()]})

    @bp.get("/v1/models/<model_id>")
    def get_model(model_id: str):
        return json_response(entry(model_id, True))
