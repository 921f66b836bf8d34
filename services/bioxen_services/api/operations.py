"""Operations: a route, its request and answer declarations, and its documentation, registered together.

``@bp.operation("post", "/v1/fba", FbaRequest, FbaAnswer, ...)`` adds the Flask route and the OpenAPI
operation from the same :class:`Operation`. The view reads the whole body, validates it against the
request model (400 naming the field, before anything runs), calls the handler with the service's
:class:`~bioxen_services.dataplane.DataPlane` and the parsed request, and writes exactly the answer's
declared fields.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Response, current_app
from pydantic import BaseModel

from ..web import json_response, read_json
from .fields import Body

#: errors any computation can answer with: bad input (400), no or wrong token (401), unknown model
#: (404), body too large (413), unsupported encoding (415), past a limit or failed (422), the client
#: went away (499), the engine died (500), not ready or overloaded (503), past the deadline (504)
COMPUTE_ERRORS = (400, 401, 404, 413, 415, 422, 499, 500, 503, 504)
#: errors of the catalog (GET /v1/models…)
CATALOG_ERRORS = (401, 404, 499, 500, 503, 504)

ERROR_TEXT = {
    400: "the request is invalid: the message names the field (invalid_json, invalid_request, "
         "invalid_model, model_path_not_allowed, unknown_reaction, unknown_species …)",
    401: "the service needs a bearer token (Authorization: Bearer <token>)",
    404: "unknown model id, or a sha256 this replica has not seen (model_not_cached: send the text inline), "
         "or an unknown or expired job (unknown_job)",
    409: "the job has not succeeded (job_not_finished): its status says where it is",
    413: "the body is larger than the service accepts (after gunzip too)",
    415: "unsupported Content-Encoding (gzip or none)",
    422: "past a limit (limit_exceeded), no solution or a failed run (computation_failed), or a model "
         "feature the engine cannot simulate (unsupported_feature)",
    499: "the client closed the connection; the computation was stopped (nobody reads this answer)",
    500: "the engine process failed and was replaced (engine_failed); quote the request_id",
    503: "not ready yet (not_ready), every engine busy and the queue full (overloaded): retry; or, for jobs, "
         "no Redis configured or reachable (jobs_unavailable)",
    504: "past the request's time budget; the engine process was stopped (timeout)",
}


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
                if request is None:
                    result = handler(plane, **path_args)
                else:
                    result = handler(plane, request.parse(read_json(plane.settings)), **path_args)
                return result if isinstance(result, Response) else json_response(answer.dump(result))

            view.operation = op
            self.add_url_rule(re.sub(r"{(\w+)}", r"<\1>", path), endpoint=handler.__name__, view_func=view,
                              methods=[method.upper()])
            return handler

        return register
