"""The client's errors. Transport exceptions never escape the client: they become these.

::

    BioXenError
    ├── ServiceUnavailable          no endpoint answered (connection errors, 503) after the retries
    │   └── ServiceTimeout          an endpoint took longer than the client's read timeout
    └── ServiceError                the service answered with an error envelope
        ├── ClientRequestError      4xx: the request was wrong (code and message from the service)
        └── ServerError             5xx other than 503 (e.g. 504 computation over its time budget)
"""

from __future__ import annotations


class BioXenError(Exception):
    """Base class of every error the client raises."""


class ServiceUnavailable(BioXenError):
    def __init__(self, service: str, message: str):
        super().__init__(f"{service} service unavailable: {message}")
        self.service = service
        self.reason = message


class ServiceTimeout(ServiceUnavailable):
    pass


class ServiceError(BioXenError):
    """An error answer. ``code`` is the service's stable error code (``invalid_request``,
    ``unknown_reaction``, ``limit_exceeded``, ...), ``message`` its explanation."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None,
                 details: dict | None = None, endpoint: str | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details or {}
        self.endpoint = endpoint

    @classmethod
    def from_response(cls, status: int, payload, endpoint: str | None = None) -> "ServiceError":
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            error = {"code": f"http_{status}", "message": str(payload)[:300] or f"HTTP {status}"}
        kind = ClientRequestError if 400 <= status < 500 else ServerError
        return kind(status, str(error.get("code", f"http_{status}")), str(error.get("message", "")),
                    error.get("request_id"), error.get("details"), endpoint)


class ClientRequestError(ServiceError):
    pass


class ServerError(ServiceError):
    pass
