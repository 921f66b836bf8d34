"""The client's errors. Transport exceptions never escape the client: they become these.

::

    BioXenError
    ├── ServiceUnavailable          no answer: no endpoint took the request (connection failed before
    │   │                           it was sent, 503) after the retries on other endpoints
    │   ├── EndpointNotFound        discovery found no endpoint at all (no URL configured and the cluster
    │   │                           DNS name does not resolve); the text says what was tried and how to
    │   │                           set the URLs
    │   └── ComputationLost         an endpoint had the whole request and no answer came back (the
    │       │                       connection dropped); not retried
    │       └── ServiceTimeout      an endpoint had the request and did not answer within the read timeout
    └── ServiceError                the service answered with an error envelope
        ├── ClientRequestError      4xx: the request was wrong (code and message from the service)
        └── ServerError             5xx other than 503
            └── ComputationTimeout  504: the computation ran past the service's time budget; not retried

Only failures before a request reached a service are retried elsewhere. A request a service had and
lost is not: the service may have been computing it (a retry costs the whole budget again), and a
request that kills or hangs an engine would do the same on every replica it was sent to.
"""

from __future__ import annotations


class BioXenError(Exception):
    """Base class of every error the client raises."""


class ServiceUnavailable(BioXenError):
    def __init__(self, service: str, message: str):
        super().__init__(f"{service} service unavailable: {message}")
        self.service = service
        self.reason = message


class EndpointNotFound(ServiceUnavailable):
    """No endpoint to send anything to: ``message`` says what discovery tried and how to set the URLs."""

    def __init__(self, service: str, message: str):
        BioXenError.__init__(self, message)
        self.service = service
        self.reason = message


#: what to do about a computation that is too long or too heavy for one request
SMALLER_REQUESTS = ("split it into smaller requests (fewer reactions, points or grid values per call), or "
                    "submit it as a job (client.submit, with the jobs API) instead of waiting on one request")


class ComputationLost(ServiceUnavailable):
    """The service had the whole request and no answer came back. ``endpoint`` is where it went."""

    def __init__(self, service: str, message: str, endpoint: str | None = None):
        BioXenError.__init__(self, f"{service} service lost the computation: {message}. It was not retried: "
                                   f"the service may have been computing it, and repeating it would cost "
                                   f"the full budget again (or fail the same way on another replica); "
                                   f"{SMALLER_REQUESTS}")
        self.service = service
        self.reason = message
        self.endpoint = endpoint


class ServiceTimeout(ComputationLost):
    """No answer within the client's read timeout."""


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
        kind = (ClientRequestError if 400 <= status < 500 else ComputationTimeout if status == 504
                else ServerError)
        return kind(status, str(error.get("code", f"http_{status}")), str(error.get("message", "")),
                    error.get("request_id"), error.get("details"), endpoint)


class ClientRequestError(ServiceError):
    pass


class ServerError(ServiceError):
    pass


class ComputationTimeout(ServerError):
    """504: the service stopped the computation at its time budget. ``message`` is the service's; the
    exception's text adds what to do, since sending the same request again ends the same way."""

    def __str__(self) -> str:
        return f"{super().__str__()} (not retried: {SMALLER_REQUESTS})"
