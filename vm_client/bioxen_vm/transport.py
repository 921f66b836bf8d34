"""The HTTP layer under the client, kept behind a tiny interface so it can be swapped.

:class:`HTTPTransport` is the default: the standard library's ``http.client``, one connection per
thread and endpoint, reused while the server keeps it open. It costs about a third of what a
``requests.Session`` call costs (0.3-0.4 ms against 0.9-1.1 ms per loopback round trip, bench/RESULTS.md),
which is most of the price of calling a service instead of an in-process engine for small models.
:class:`RequestsTransport` (a pooled ``requests.Session``) remains for environments that need its proxy
and TLS handling. :class:`MockTransport` calls a Python function instead, so pure unit tests of the
client need no network at all.
A transport raises :class:`TransportError` for anything that is not an HTTP answer.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


try:  # answers can carry thousands of fluxes or time points: orjson decodes them ~10x faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a declared dependency, json is the fallback
    _loads = json.loads


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
        return _loads(self.body) if self.body else None


class TransportError(Exception):
    """No HTTP answer. ``kind`` is ``"connect"`` (nothing listening, refused, DNS, reset before an
    answer: safe to retry elsewhere) or ``"timeout"`` (the endpoint did not answer in time)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class HTTPTransport:
    """``http.client`` connections, one per (thread, scheme, host, port), reused while the server
    keeps them open (the services' front keeps them for BIOXEN_IDLE_TIMEOUT_SECONDS)."""

    def __init__(self):
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self, scheme: str, host: str, port: int | None, timeout: Timeout):
        conns = self._local.__dict__.setdefault("conns", {})
        key = (scheme, host, port)
        conn = conns.get(key)
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = cls(host, port, timeout=timeout.connect)
            conns[key] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: Timeout = Timeout()) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("connect", f"not an http(s) URL: {url!r}")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        for attempt in (0, 1):
            conn = self._connection(parts.scheme, parts.hostname, parts.port, timeout)
            reused = conn.sock is not None
            phase = "connect"
            try:
                if not reused:
                    conn.timeout = timeout.connect
                    conn.connect()
                phase = "read"
                conn.sock.settimeout(timeout.read)
                conn.request(method, target, body=body, headers=dict(headers or {}))
                resp = conn.getresponse()
                data = resp.read()
            except socket.timeout as exc:
                conn.close()
                if phase == "connect":
                    raise TransportError("connect", f"connect timeout after {timeout.connect} s") from exc
                raise TransportError("timeout", f"no answer within {timeout.read} s") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle kept-alive connection: one fresh try
                raise TransportError("connect", _short(exc)) from exc
            if resp.will_close:
                conn.close()
            return Response(resp.status, data, _Headers(resp.getheaders()))
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class _Headers(dict):
    """Response headers with case-insensitive lookup."""

    def __init__(self, pairs):
        super().__init__((k.lower(), v) for k, v in pairs)

    def get(self, key, default=None):
        return super().get(key.lower(), default)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())


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

