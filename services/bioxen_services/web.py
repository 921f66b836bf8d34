"""HTTP plumbing shared by both services: JSON bodies (gzip, size and depth limits), the error
envelope, request ids, bearer-token auth and request metrics. The probes, ``/metrics`` and
``/openapi.json`` are in :mod:`.health`; the computation routes in ``static/`` and ``dynamic/``."""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
import uuid
import zlib

import orjson
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import metrics
from .errors import (InvalidJSON, PayloadTooLarge, ServiceError, Unauthorized,
                     UnsupportedMediaType, ValidationError)
from .settings import Settings

log = logging.getLogger(__name__)

#: paths that stay open without a token: the kubelet and Prometheus must reach them, and a reader the
#: API's description (the document and its docs page, docs.py)
OPEN_PATHS = frozenset({"/health", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"})
#: and the docs page's own assets (Swagger UI's scripts and styles)
OPEN_PREFIXES = ("/docs/",)


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    """``payload`` as compact JSON. orjson writes every float as its shortest round-trip text, as
    ``json.dumps`` does (the numbers parse back identical), 20x faster on large float arrays
    (bench/RESULTS.md), and it writes numpy arrays directly, so trajectories need no conversion to
    Python floats; engines map non-finite numbers to null themselves. Anything orjson refuses (e.g.
    non-string keys) goes through the standard library."""
    try:
        body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False,
                          default=lambda value: value.tolist())
    resp = Response(body, status=status, mimetype="application/json")
    if headers:
        resp.headers.update(headers)
    return resp


def _reject_constant(name: str):
    raise InvalidJSON(f"{name} is not valid JSON; numbers must be finite")


def _depth(value, limit: int) -> int:
    """Nesting depth of a decoded JSON value, walked iteratively; stops once past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


#: a JSON escape of a UTF-16 surrogate; only then can a decoded string hold one
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_unicode(value) -> None:
    """Refuse lone surrogates (``"\\ud800"``): valid JSON syntax, but no Unicode text, and every
    engine and hash downstream would fail on them."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidJSON("request body holds a lone UTF-16 surrogate escape (e.g. \\ud800), "
                                  "which is not Unicode text") from exc


def read_body(settings: Settings) -> bytes:
    """The request body's bytes: gunzipped when ``Content-Encoding: gzip``, bounded in size before and
    after decompression."""
    raw = request.get_data(cache=False)  # werkzeug answers 413 past MAX_CONTENT_LENGTH
    limit = settings.max_body_bytes
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body of {len(raw)} bytes exceeds the limit of {limit} bytes")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise InvalidJSON(f"request body is not valid gzip: {exc}") from exc
        if len(raw) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"request body expands past the limit of {limit} bytes after gunzip")
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    return raw


def read_upload(settings: Settings, media_type: str, field: str) -> bytes:
    """A file sent as the whole body with ``Content-Type: <media_type>``, or as the multipart/form-data
    field ``field``; bounded like any body (the form's parts by ``MAX_CONTENT_LENGTH``)."""
    sent = request.mimetype
    if sent == "multipart/form-data":
        part = request.files.get(field)
        if part is None:
            raise ValidationError(f"the multipart form has no field {field!r} (the file); fields sent: "
                                  f"{sorted({*request.files, *request.form})}")
        data = part.read(settings.max_body_bytes + 1)
        if len(data) > settings.max_body_bytes:
            raise PayloadTooLarge(f"field {field!r} exceeds the limit of {settings.max_body_bytes} bytes")
        return data
    if sent != media_type:
        raise UnsupportedMediaType(f"Content-Type {sent or 'none'!r} is not accepted here; send the file with "
                                   f"Content-Type {media_type}, as the multipart/form-data field {field!r}, or "
                                   "as JSON")
    return read_body(settings)


def read_json(settings: Settings) -> dict:
    """The request body as a JSON object: gunzipped when ``Content-Encoding: gzip``, bounded in
    size before and after decompression, NaN/Infinity refused, nesting bounded."""
    raw = read_body(settings)
    if not raw.strip():
        return {}
    containers = raw.count(b"{") + raw.count(b"[")  # an upper bound, counted before anything is built
    if containers > settings.max_json_containers:
        raise PayloadTooLarge(f"request body holds up to {containers} JSON objects and arrays, above the limit "
                              f"of {settings.max_json_containers}")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise InvalidJSON(f"request body nests deeper than {settings.max_json_depth} levels") from exc
    except ValueError as exc:  # UnicodeDecodeError too; _reject_constant's InvalidJSON is no ValueError
        raise InvalidJSON(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValidationError("request body must be a JSON object")
    if _depth(body, settings.max_json_depth) > settings.max_json_depth:
        raise InvalidJSON(f"request body nests deeper than {settings.max_json_depth} levels")
    if _SURROGATE_ESCAPE.search(raw):
        _check_unicode(body)
    return body


def _error_body(code: str, message: str, details: dict | None = None) -> dict:
    error = {"code": code, "message": message, "request_id": getattr(g, "request_id", None)}
    if details:
        error["details"] = details
    return {"error": error}


def init_errors(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if exc.status_code >= 500:
            log.warning("request %s: %s (%s)", getattr(g, "request_id", "-"), exc.message, exc.code)
        return json_response(_error_body(exc.code, exc.message, exc.details), exc.status_code)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body exceeds the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
            code = "payload_too_large"
        return json_response(_error_body(code, message), exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("request %s failed", getattr(g, "request_id", "-"))
        return json_response(_error_body(
            "internal_error", "the service failed to process this request; quote the request_id "
                              "when reporting it"), 500)


#: a client's X-Request-ID is taken only in this shape (it goes into logs and answers)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class InFlight:
    """Requests being processed by this front (the drain on SIGTERM waits for zero)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.count += n


def init_observability(app: Flask, service: str) -> None:
    in_flight = metrics.IN_FLIGHT.labels(service)
    counter = app.extensions["bioxen_in_flight"] = InFlight()
    budget = app.extensions["bioxen"].settings.request_timeout_seconds

    @app.before_request
    def start():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.deadline = time.monotonic() + budget
        in_flight.inc()
        counter.add(1)

    @app.after_request
    def finish(response: Response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if "started" in g:
            endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
            metrics.HTTP_LATENCY.labels(service, request.method, endpoint).observe(
                time.perf_counter() - g.started)
            metrics.HTTP_REQUESTS.labels(service, request.method, endpoint, str(response.status_code)).inc()
        return response

    @app.teardown_request
    def done(exc):
        if "started" in g:
            in_flight.dec()
            counter.add(-1)


def init_auth(app: Flask, token: str) -> None:
    if not token:
        return
    expected = token.encode("utf-8")

    @app.before_request
    def check_token():
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
            return None
        # the scheme is case-insensitive (RFC 9110); the header is compared as bytes, so any text
        # (non-ASCII included) is simply a wrong token
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8", "surrogateescape"), expected):
            raise Unauthorized("this service needs a bearer token: send 'Authorization: Bearer <token>'")
        return None
