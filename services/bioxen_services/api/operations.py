"""Operations: a route, its request and answer declarations, and its documentation, registered together.

``@bp.operation("post", "/v1/fba", FbaRequest, FbaAnswer, ...)`` adds the Flask route and the OpenAPI
operation from the same :class:`Operation`. The view reads the whole body, validates it against the
request model (400 naming the field, before anything runs), calls the handler with the service's
:class:`~bioxen_services.dataplane.DataPlane` and the parsed request, and writes exactly the answer's
declared fields.

An operation may also take a file (:class:`Upload`: the raw body with its media type, or a multipart
field), read into the same request declaration as its JSON form, and may answer in other media types
than JSON (``media``): the view then picks the answer's type from ``Accept`` (JSON unless another is
preferred; 406 when none is acceptable) and passes it to the handler as ``media=``; a handler answers
such a type with the bytes of the body.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Response, current_app, request as http_request
from pydantic import BaseModel

from ..errors import NotAcceptable
from ..web import json_response, read_json, read_upload
from .fields import Body

#: errors any computation can answer with: bad input (400), no or wrong token (401), unknown model
#: (404), body too large (413), unsupported encoding (415), past a limit or failed (422), the client
#: went away (499), the engine died (500), not ready or overloaded (503), past the deadline (504)
COMPUTE_ERRORS = (400, 401, 404, 413, 415, 422, 499, 500, 503, 504)
#: errors of the catalog (GET /v1/models…)
CATALOG_ERRORS = (401, 404, 499, 500, 503, 504)

ERROR_TEXT = {
    400: "the request is invalid: the message names the field (invalid_json, invalid_request, "
         "invalid_model, model_path_not_allowed, unknown_reaction, unknown_species …; for an archive "
         "invalid_archive, unsafe_archive_entry, invalid_manifest, external_model)",
    401: "the service needs a bearer token (Authorization: Bearer <token>)",
    404: "unknown model id, or a sha256 this replica has not seen (model_not_cached: send the text inline), "
         "or an unknown or expired job (unknown_job)",
    406: "the Accept header allows none of the operation's answer types (not_acceptable)",
    409: "the job has not succeeded (job_not_finished): its status says where it is",
    413: "the body is larger than the service accepts (after gunzip too), or an archive past its limits "
         "(archive_too_large: entries, unpacked size, compression ratio)",
    415: "unsupported Content-Encoding (gzip or none), or a Content-Type the operation does not take",
    422: "past a limit (limit_exceeded), no solution or a failed run (computation_failed), a model "
         "feature the engine cannot simulate (unsupported_feature), or a SED-ML task the other service "
         "runs (unsupported_task)",
    499: "the client closed the connection; the computation was stopped (nobody reads this answer)",
    500: "the engine process failed and was replaced (engine_failed); quote the request_id",
    503: "not ready yet (not_ready), every engine busy and the queue full (overloaded): retry; or, for jobs, "
         "no Redis configured or reachable (jobs_unavailable)",
    504: "past the request's time budget; the engine process was stopped (timeout)",
}


JSON = "application/json"


@dataclass(frozen=True)
class Upload:
    """A request body that may also be a file: the whole body with ``Content-Type: <media_type>``, or
    the multipart/form-data field ``field``. Its bytes become the declaration's field ``field``."""

    media_type: str
    field: str
    description: str

    def read(self, settings) -> dict:
        return {self.field: read_upload(settings, self.media_type, self.field)}


def negotiate(offered: tuple[str, ...]) -> str:
    """The answer type ``Accept`` prefers among ``offered`` (the first, JSON, unless another is asked
    for more; no Accept header or ``*/*`` means JSON); 406 when none is acceptable."""
    accept = http_request.accept_mimetypes
    if not accept:
        return offered[0]
    best = accept.best_match(offered)
    if best is None:
        raise NotAcceptable(f"Accept {http_request.headers.get('Accept')!r} allows none of this operation's "
                            f"answer types {list(offered)}")
    return best


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI form: /v1/models/{model_id}
    operation_id: str
    summary: str
    answer: type[BaseModel]
    request: type[Body] | None = None
    description: str = ""
    example: dict | None = None
    errors: tuple[int, ...] = COMPUTE_ERRORS
    #: whether the operation needs the token when the service has one (probes and docs do not)
    secured: bool = True
    #: other successful answers: status -> (description, model)
    responses: dict[int, tuple[str, type[BaseModel]]] = field(default_factory=dict)
    tag: str = "computations"
    #: path parameters: name -> (description, example)
    parameters: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: the status of a successful answer (202 for a job accepted)
    status: int = 200
    #: the request may also come as a file (its JSON form is ``request``)
    upload: Upload | None = None
    #: answer media types besides JSON, chosen by Accept: media type -> what the body holds
    media: dict[str, str] = field(default_factory=dict)


class ApiBlueprint(Blueprint):
    """A blueprint whose routes are :class:`Operation`s (listed in ``.operations``, in order)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.operations: list[Operation] = []

    def operation(self, method: str, path: str, *, request: type[Body] | None = None, answer: type[BaseModel],
                  **docs: Any) -> Callable:
        def register(handler: Callable) -> Callable:
            op = Operation(method, path, handler.__name__, answer=answer, request=request, **docs)
            self.operations.append(op)

            @functools.wraps(handler)
            def view(**path_args):
                plane = current_app.extensions["bioxen"]
                media = negotiate((JSON, *op.media)) if op.media else JSON
                extra = {"media": media} if op.media else {}
                if request is None:
                    result = handler(plane, **path_args, **extra)
                else:
                    upload = op.upload is not None and http_request.mimetype != JSON
                    body = op.upload.read(plane.settings) if upload else read_json(plane.settings)
                    result = handler(plane, request.parse(body), **path_args, **extra)
                if isinstance(result, Response):
                    return result
                if media != JSON:
                    return Response(result, mimetype=media)
                return json_response(answer.dump(result))

            view.operation = op
            self.add_url_rule(re.sub(r"{(\w+)}", r"<\1>", path), endpoint=handler.__name__, view_func=view,
                              methods=[method.upper()])
            return handler

        return register
