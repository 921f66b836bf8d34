"""The HTTP layer under the client, kept behind a tiny interface so it can be swapped.

:class:`HTTPTransport` is the default: the standard library's ``http.client``, one connection per
thread and endpoint, reused while the server keeps it open. It costs about a third of what a
``requests.Session`` call costs (0.3-0.4 ms against 0.9-1.1 ms per loopback round trip, bench/RESULTS.md),
which is most of the price of calling a service instead of an in-process engine for small models.
:class:`RequestsTransport` (a pooled ``requests.Session``) remains for environments that need its proxy
and TLS handling; ``requests`` is an optional extra (``pip install 'bioxen-vm[requests]'``), imported only
when that transport is created. :class:`MockTransport` calls a Python function instead, so pure unit tests of the
client need no network at all.
A transport raises :class:`TransportError` for anything that is not an HTTP answer, and says whether the
request had reached the service (see :class:`TransportError`): the client fails over only requests that
never did.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import urlsplit

from .settings import Timeout


try:  # answers can carry thousands of fluxes or time points: orjson decodes them ~10x faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a declared dependency, json is the fallback
    _loads = json.loads


@dataclass
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self):
        return _loads(self.body) if self.body else None


class TransportError(Exception):
    """No HTTP answer. ``kind`` says how far the request got:

    - ``"connect"``: it never reached the service whole (DNS, refused, connect timeout, a connection
      that failed while the request was being written). Safe to send elsewhere.
    - ``"lost"``: the whole request was sent, then the connection dropped (reset, EOF, a partial
      answer). The service may have been computing, or the request may have killed its engine process.
    - ``"timeout"``: the whole request was sent and no answer came within the read timeout.
    """

    CONNECT, LOST, TIMEOUT = "connect", "lost", "timeout"

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind

    @property
    def sent(self) -> bool:
        """True when the service had the whole request (repeating it may repeat its computation)."""
        return self.kind != self.CONNECT


#: a kept-alive connection idle longer than this is not reused: servers close idle connections after a
#: few seconds (gunicorn's default keep-alive is 2 s), and a close that crosses our next request would
#: look exactly like a request that was lost while computing
REUSE_IDLE_SECONDS = 1.0


def _dropped(sock: socket.socket) -> bool:
    """True when an idle connection can no longer carry a request: the server closed it (EOF pending)
    or sent something unasked. The check urllib3 makes before reusing a pooled connection (poll, not
    select, which fails on descriptors past 1024)."""
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class HTTPTransport:
    """``http.client`` connections, one per (thread, scheme, host, port), reused while the server
    keeps them open (the services' front keeps them for BIOXEN_IDLE_TIMEOUT_SECONDS).

    A kept-alive connection is reused only when it has been idle less than :data:`REUSE_IDLE_SECONDS`
    and the server has not closed it; any other one is replaced before the request is written, so a
    failure after that point really is a request the service had (``"lost"``), never a stale socket.
    """

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
        conn = self._connection(parts.scheme, parts.hostname, parts.port, timeout)
        if conn.sock is not None and (time.monotonic() - getattr(conn, "idle_since", 0.0) > REUSE_IDLE_SECONDS
                                      or _dropped(conn.sock)):
            conn.close()  # closed by the server, or idle long enough that it may close it under us
        phase = "connect"
        try:
            if conn.sock is None:
                conn.timeout = timeout.connect
                conn.connect()
            phase = "send"
            conn.sock.settimeout(timeout.read)
            conn.request(method, target, body=body, headers=dict(headers or {}))
            phase = "answer"  # the whole request is with the service from here on
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:  # socket.timeout is an OSError
            conn.close()
            timed_out = isinstance(exc, socket.timeout)
            if phase == "connect":
                raise TransportError(TransportError.CONNECT, f"connect timeout after {timeout.connect} s"
                                     if timed_out else _short(exc)) from exc
            if phase == "send":  # the service never had the whole request: nothing to compute
                raise TransportError(TransportError.CONNECT, "the request could not be written "
                                     + (f"within {timeout.read} s" if timed_out else f"({_short(exc)})")) from exc
            if timed_out:
                raise TransportError(TransportError.TIMEOUT, f"no answer within {timeout.read} s") from exc
            raise TransportError(TransportError.LOST, f"the connection dropped after the request was sent "
                                 f"({_short(exc)})") from exc
        if resp.will_close:
            conn.close()
        else:
            conn.idle_since = time.monotonic()
        return Response(resp.status, data, _Headers(resp.getheaders()))

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
        try:
            import requests
            from requests.adapters import HTTPAdapter
        except ImportError:
            raise ImportError("RequestsTransport needs requests: pip install 'bioxen-vm[requests]' "
                              "(the default transport, HTTPTransport, needs nothing)") from None
        self._exceptions = requests.exceptions
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: Timeout = Timeout()) -> Response:
        import urllib3  # requests' own dependency: present whenever this transport exists

        errors = self._exceptions
        try:
            resp = self.session.request(method, url, data=body, headers=dict(headers or {}),
                                        timeout=(timeout.connect, timeout.read), allow_redirects=False)
        except errors.ConnectTimeout as exc:
            raise TransportError(TransportError.CONNECT, f"connect timeout after {timeout.connect} s") from exc
        except errors.ReadTimeout as exc:
            raise TransportError(TransportError.TIMEOUT, f"no answer within {timeout.read} s") from exc
        except (errors.ChunkedEncodingError, errors.ContentDecodingError) as exc:
            raise TransportError(TransportError.LOST, f"the answer was cut off ({_short(exc)})") from exc
        except errors.ConnectionError as exc:
            if isinstance(exc.args[0] if exc.args else None, urllib3.exceptions.ProtocolError):
                # "Connection aborted.": the connection was up and dropped while the request was out
                # (urllib3 does not say whether the body was all written, so assume the service had it)
                raise TransportError(TransportError.LOST, f"the connection dropped after the request was "
                                     f"sent ({_short(exc)})") from exc
            raise TransportError(TransportError.CONNECT, _short(exc)) from exc
        except errors.RequestException as exc:
            raise TransportError(TransportError.CONNECT, _short(exc)) from exc
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

