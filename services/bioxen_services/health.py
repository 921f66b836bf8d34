"""Liveness, readiness, the phase-1 health answer, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from . import metrics, openapi
from .web import json_response

bp = Blueprint("health", __name__)

SERVICE_NAMES = {"static": "static_metabolic", "dynamic": "dynamic_kinetic"}


def _ctx():
    return current_app.extensions["bioxen"]


@bp.get("/health")
def health():
    """Phase-1 contract: answers as soon as the process does."""
    return json_response({"status": "healthy", "service": SERVICE_NAMES[_ctx().service]})


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers HTTP. Never depends on the models."""
    return json_response({"status": "alive", "service": SERVICE_NAMES[_ctx().service]})


@bp.get("/readyz")
def readyz():
    """Readiness: the engine template has compiled the shipped models and engines are serving.
    Answered by the front itself, so busy engines never delay it."""
    ctx = _ctx()
    runtime = ctx.runtime
    runtime.start()
    body = {"service": SERVICE_NAMES[ctx.service], "ready": runtime.ready,
            "models_loaded": runtime.models_loaded, "load_seconds": runtime.load_seconds,
            "engines": runtime.pids()}
    if runtime.load_error:
        body["error"] = runtime.load_error
    if runtime.draining:
        body["ready"] = False
        body["draining"] = True
    return json_response(body, 200 if body["ready"] else 503)


@bp.get("/metrics")
def metrics_view():
    data, content_type = metrics.render()
    return Response(data, mimetype=None, content_type=content_type)


@bp.get("/openapi.json")
def openapi_view():
    ctx = _ctx()
    return json_response(openapi.document(ctx.service, ctx.model_ids()))
