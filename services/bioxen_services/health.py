"""Liveness, readiness, the phase-1 health answer, Prometheus metrics, the OpenAPI document and its
docs page. All open without a token (the kubelet and Prometheus must reach them)."""

from __future__ import annotations

from flask import Response, current_app

from . import SERVICE_NAMES, metrics, openapi
from .api.common import Health, Readiness
from .api.operations import ApiBlueprint
from .web import json_response

bp = ApiBlueprint("health", __name__)

PROBE = dict(errors=(), secured=False, tag="probes")


@bp.operation("get", "/health", answer=Health, summary="phase-1 health: answers as soon as the process does",
              **PROBE)
def health(plane):
    return {"status": "healthy", "service": SERVICE_NAMES[plane.service]}


@bp.operation("get", "/healthz", answer=Health, summary="liveness: the process answers HTTP (never depends "
                                                         "on the models)", **PROBE)
def healthz(plane):
    return {"status": "alive", "service": SERVICE_NAMES[plane.service]}


@bp.operation("get", "/readyz", answer=Readiness, summary="readiness: shipped models compiled, engines serving, "
                                                          "not draining",
              responses={503: ("not ready (still loading, failed to load, or draining)", Readiness)}, **PROBE)
def readyz(plane):
    body = plane.readiness()
    return json_response(Readiness.dump(body), 200 if body["ready"] else 503)


@bp.get("/metrics")
def metrics_view():
    """Prometheus text format (not a JSON operation, so not in the OpenAPI document)."""
    data, content_type = metrics.render()
    return Response(data, mimetype=None, content_type=content_type)


@bp.get("/openapi.json")
def openapi_view():
    plane = current_app.extensions["bioxen"]
    return json_response(openapi.document(plane.service, plane.model_ids(), secured=bool(plane.settings.api_token)))
