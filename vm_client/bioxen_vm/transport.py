"""The HTTP layer under the client, kept behind a tiny interface so it can be swapped.

:class:`RequestsTransport` is the real one (a pooled ``requests.Session``); :class:`MockTransport`
calls a Python function instead, so pure unit tests of the client need no network at all.
A transport raises :class:`TransportError` for anything that is not an HTTP answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


@dataclass(frozen=True)
class Timeout:
    """Seconds to wait to connect and to wait for an answer; both finite."""

    connect: float = 3.0
    read: float = 120.0

    @classmethod
    def of(cls, value: "Timeout | float | tuple[float, float] | None") -> "Timeout":
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            timeout = value
        elif isinstance(value, tuple):
            timeout = cls(float(value[0]), float(value[1]))
        else:
            timeout = cls(min(float(value), cls.connect), float(value))
        if not (0 < timeout.connect < float("inf") and 0 < timeout.read < float("inf")):
            raise ValueError(f"timeouts must be positive and finite, got {timeout}")
        return timeout


@dataclass
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self):
        return json.loads(self.body) if self.body else None


class TransportError(Exception):
    """No HTTP answer. ``kind`` is ``"connect"`` (nothing listening, refused, DNS, reset before an
    answer: safe to retry elsewhere) or ``"timeout"`` (the endpoint did not answer in time)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class RequestsTransport:
    def __init__(self, pool_size: int = 32):
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: Timeout = Timeout()) -> Response:
        try:
            resp = self.session.request(method, url, data=body, headers=dict(headers or {}),
                                        timeout=(timeout.connect, timeout.read), allow_redirects=False)
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError("connect", f"connect timeout after {timeout.connect} s") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise TransportError("timeout", f"no answer within {timeout.read} s") from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError("connect", _short(exc)) from exc
        return Response(resp.status_code, resp.content, resp.headers)

    def close(self) -> None:
        self.session.close()


def _short(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "Connection reset",
                   "Remote end closed connection"):
        if marker in text:
            return marker.lower()
    return text[:200]


class MockTransport:
    """Answers with ``handler(method, url, body, headers) -> Response`` (or raises TransportError).

    ``body`` is the raw request bytes; :func:`decode_body` turns them back into JSON.
    """

    def __init__(self, handler: Callable[[str, str, bytes | None, Mapping[str, str]], Response]):
        self.handler = handler
        self.calls: list[tuple[str, str]] = []

    def request(self, method, url, *, body=None, headers=None, timeout=Timeout()) -> Response:
        self.calls.append((method, url))
        return self.handler(method, url, body, dict(headers or {}))

    def close(self) -> None:
        pass


def decode_body(body: bytes | None, headers: Mapping[str, str]):
    import gzip

    if not body:
        return None
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def json_response(status: int, payload) -> Response:
    return Response(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def host_of(url: str) -> str:
    return urlsplit(url).netloc
