"""Application factory: ``create_app("static")`` or ``create_app("dynamic")``.

Run in production as ``bioxen serve static|dynamic`` (gunicorn sync workers, one engine per process).
Each worker builds its own app, starts loading the shipped models in the background, and answers
``/healthz`` at once and ``/readyz`` once the models are compiled.
"""

from __future__ import annotations

import logging

from flask import Flask

from bioxen_vm.bytecode import load_manifest

from . import SERVICES, health, web
from .context import ServiceContext
from .runtime import Runtime
from .settings import Settings

log = logging.getLogger(__name__)


def _static_parts(settings: Settings, manifest):
    from .static import dfba_routes, models, routes

    models.configure_cobra()
    specs = {mid: (entry.path, "sbml") for mid, entry in manifest.metabolic_models.items()}
    return models.CobraStore(settings, specs), [routes.bp, dfba_routes.bp]


def _dynamic_parts(settings: Settings, manifest):
    from .dynamic import programs, routes

    specs = {pid: (entry.path, entry.format) for pid, entry in manifest.kinetic_programs.items()}
    return programs.RoadRunnerStore(settings, specs), [routes.bp]


def create_app(service: str = "static", settings: Settings | None = None, *,
               background_load: bool = True) -> Flask:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; choose one of {SERVICES}")
    settings = settings or Settings.from_env()
    manifest = load_manifest(settings.bytecode_dir)
    store, blueprints = (_static_parts if service == "static" else _dynamic_parts)(settings, manifest)

    app = Flask(f"bioxen_{service}")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    runtime = Runtime(service, settings, store.load_shipped)
    app.extensions["bioxen"] = ServiceContext(service, settings, manifest, store, runtime)

    web.init_errors(app)
    web.init_observability(app, service)
    web.init_auth(app, settings.api_token)
    app.register_blueprint(health.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    runtime.start(background=background_load)
    return app
