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
    """Readiness: the shipped models are loaded and compiled in this worker."""
    ctx = _ctx()
    runtime = ctx.runtime
    body = {"service": SERVICE_NAMES[ctx.service], "ready": runtime.ready.is_set(),
            "models_loaded": sorted(ctx.store.shipped), "load_seconds": runtime.load_seconds}
    if runtime.load_error:
        body["error"] = runtime.load_error
    if getattr(runtime, "draining", False):
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
    return json_response(openapi.document(ctx.service, ctx.store.ids()))
