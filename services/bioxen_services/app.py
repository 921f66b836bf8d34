"""Application factory: ``create_app("static")`` or ``create_app("dynamic")``.

The app is the replica's front: it reads and checks requests, answers probes and ``/metrics`` itself,
and hands every computation to an engine process of its :class:`~.supervisor.Supervisor`. Run it in
production as ``bioxen serve static|dynamic`` (:mod:`.server`). The engines start with the first
computation or probe, or at once with ``start_engines=True``.
"""

from __future__ import annotations

from bioxen_common.manifest import load_manifest
from bioxen_common.names import SERVICES
from flask import Flask

from . import docs, health, job_routes, web
from .dataplane import DataPlane
from .jobs import service as jobs
from .settings import Settings
from .supervisor import Supervisor


def _blueprints(service: str):
    if service == "static":
        from .static import dfba_routes, routes

        return [routes.bp, dfba_routes.bp, job_routes.BLUEPRINTS[service]]
    from .dynamic import routes

    return [routes.bp, job_routes.BLUEPRINTS[service]]


def operations(service: str) -> list:
    """Every JSON operation of a service, in the order the OpenAPI document lists them."""
    return [op for bp in (health.bp, *_blueprints(service)) for op in bp.operations]


def create_app(service: str = "static", settings: Settings | None = None, *,
               start_engines: bool = False) -> Flask:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; choose one of {SERVICES}")
    settings = settings or Settings.from_env()
    manifest = load_manifest(settings.bytecode_dir)

    app = Flask(f"bioxen_{service}")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    runtime = Supervisor(service, settings)
    app.extensions["bioxen"] = DataPlane(service, settings, manifest, runtime)

    web.init_errors(app)
    web.init_observability(app, service)
    web.init_auth(app, settings.api_token)
    app.register_blueprint(health.bp)
    docs.init_app(app, service)
    for blueprint in _blueprints(service):
        app.register_blueprint(blueprint)
    jobs.init_app(app)
    if start_engines:
        runtime.start(wait=True)
    return app
