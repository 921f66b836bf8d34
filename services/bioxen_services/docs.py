"""The docs page: ``GET /docs`` renders the service's own ``/openapi.json`` with Swagger UI.

Offline: the page and its scripts, styles and icons are served by the service itself, from the
Swagger UI distribution the PyPI package ``flask-swagger-ui`` ships (its blueprint serves them under
``/docs/``); no CDN, and a Content-Security-Policy keeps the browser on this host. Like
``/openapi.json``, the page and its assets need no token (``web.OPEN_PATHS``); "Try it out" sends the
token the reader enters under "Authorize".
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_swagger_ui import get_swaggerui_blueprint

from . import openapi

DOCS_PATH = "/docs"
#: the page's inline start-up script and Swagger UI's inline styles and data: images are the only
#: things not fetched from this host; everything else, the document and "Try it out" included, is 'self'
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                           "form-action 'self'; frame-ancestors 'self'; base-uri 'self'")


def init_app(app: Flask, service: str) -> None:
    """Serve the docs page at ``/docs`` (and ``/docs/``) and the Swagger UI assets under ``/docs/``."""
    bp = get_swaggerui_blueprint(DOCS_PATH, "/openapi.json", blueprint_name="docs", config={
        "app_name": openapi.TITLES[service],
        "displayOperationId": True,
        # the default sends the document's URL to the public validator for a badge image
        "validatorUrl": None,
    })

    app.register_blueprint(bp)
    # the blueprint answers /docs/; the page is also /docs itself, without a redirect
    app.add_url_rule(DOCS_PATH, endpoint="docs_page", view_func=app.view_functions[f"{bp.name}.show"])

    @app.after_request
    def secure(response: Response) -> Response:
        if request.blueprint == bp.name or request.endpoint == "docs_page":
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response
