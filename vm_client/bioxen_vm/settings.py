"""Client settings, read and checked once from the environment into one frozen object.

:meth:`ClientSettings.from_env` is the only place the VM side reads its environment (the manifest's
folder, ``BIOXEN_BYTECODE_DIR``, is read by :mod:`bioxen_common.manifest`); the client, discovery and
the hypervisor are handed the object. Arguments given in code (a client's URLs, ``timeout=``,
``retries=``, a CLI's ``--timeout``) override it through :meth:`ClientSettings.replace`.

Every variable, its default and its meaning: the "Client settings" table of README.md (a test checks
that the table and this module name the same variables). ``timeout``, ``retries``, ``backoff``,
``backoff_max`` and ``concurrency`` have no variable: they are given in code or on the command line.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence, TypeVar

from bioxen_common.names import DEFAULT_PORT, SERVICES
from bioxen_common.token import token_from_env

#: the namespace file Kubernetes mounts into every pod with a service-account token
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
ENV_URLS = {"static": "BIOXEN_STATIC_URL", "dynamic": "BIOXEN_DYNAMIC_URL"}
#: longest time a DNS answer is kept, whatever its TTL (CoreDNS's default TTL)
DNS_TTL_MAX_SECONDS = 5.0
#: default items per request of a fanned-out batch (reactions, deletions, grid points): the client's
#: and the command line's
FVA_CHUNK = 25
KNOCKOUT_CHUNK = 100
SCAN_CHUNK = 50

T = TypeVar("T")


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


def split_urls(value: str | Sequence[str] | None) -> list[str]:
    """``"http://a, http://b"`` or ``["http://a", "http://b"]`` -> normalised URLs (scheme added,
    trailing slash and blanks removed)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    urls = []
    for item in items:
        item = item.strip().rstrip("/")
        if not item:
            continue
        if "://" not in item:
            item = "http://" + item
        urls.append(item)
    return urls


def _parsed(env: Mapping[str, str], name: str, parse: Callable[[str], T], what: str, default: T) -> T:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return parse(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not {what}") from None


@dataclass(frozen=True)
class ClientSettings:
    """Everything a VM's client needs to know before its first request (see the module's table)."""

    static_urls: tuple[str, ...] = ()
    dynamic_urls: tuple[str, ...] = ()
    #: the bearer token sent to the services; None: none
    token: str | None = None
    #: raise ServiceUnavailable instead of degrading to symbolic execution (hypervisor)
    strict: bool = False
    #: how a pod finds the chart's headless Services: <release>-<service>.<namespace>.svc.<cluster_domain>
    release: str = "bioxen"
    namespace: str | None = None
    cluster_domain: str = "cluster.local"
    service_port: int = DEFAULT_PORT
    dns_server: str | None = None  # host[:port]; tests point this at a loopback dnsmasq
    #: seconds a DNS answer is kept at most: Docker's embedded DNS answers with TTL 600 s
    dns_ttl_max: float = DNS_TTL_MAX_SECONDS
    #: to connect and to wait for an answer (both finite)
    timeout: Timeout = Timeout()
    #: further attempts, on another endpoint, of a request no service started (connect failure, 503)
    retries: int = 3
    #: first back-off before a retry and its ceiling, in seconds (doubling, with jitter)
    backoff: float = 0.05
    backoff_max: float = 2.0
    #: chunks of one fanned-out batch in flight at once
    concurrency: int = 8

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "ClientSettings":
        """The settings ``environ`` (default: ``os.environ``) gives, then ``overrides``, checked."""
        env = os.environ if environ is None else environ
        namespace = env.get("POD_NAMESPACE") or None
        if namespace is None and NAMESPACE_FILE.is_file():
            namespace = NAMESPACE_FILE.read_text().strip() or None
        settings = cls(
            static_urls=tuple(split_urls(env.get(ENV_URLS["static"]))),
            dynamic_urls=tuple(split_urls(env.get(ENV_URLS["dynamic"]))),
            token=token_from_env(env),
            strict=env.get("BIOXEN_STRICT", "").strip().lower() in ("1", "true", "yes"),
            release=env.get("BIOXEN_RELEASE") or "bioxen",
            namespace=namespace,
            cluster_domain=env.get("BIOXEN_CLUSTER_DOMAIN") or "cluster.local",
            service_port=_parsed(env, "BIOXEN_SERVICE_PORT", int, "a port number", DEFAULT_PORT),
            dns_server=env.get("BIOXEN_DNS_SERVER") or None,
            dns_ttl_max=_parsed(env, "BIOXEN_DNS_TTL_MAX_SECONDS", float, "a number of seconds",
                                DNS_TTL_MAX_SECONDS),
        )
        return settings.replace(**overrides)

    def replace(self, **changes) -> "ClientSettings":
        """A copy with ``changes`` applied (None means "keep"), checked. ``timeout`` may be a
        :class:`Timeout`, seconds, or (connect, read); URLs a string or a list."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "timeout" in changes:
            changes["timeout"] = Timeout.of(changes["timeout"])
        for name in ("static_urls", "dynamic_urls"):
            if name in changes:
                changes[name] = tuple(split_urls(changes[name]))
        settings = dataclasses.replace(self, **changes)
        settings.check()
        return settings

    def check(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be at least 0, got {self.retries}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if not (0 < self.service_port < 65536):
            raise ValueError(f"BIOXEN_SERVICE_PORT={self.service_port} is not a port number")
        if not self.dns_ttl_max >= 0:
            raise ValueError(f"BIOXEN_DNS_TTL_MAX_SECONDS={self.dns_ttl_max} must not be negative")

    def urls(self, service: str) -> tuple[str, ...]:
        """The URLs the environment gives for ``service`` (empty: discover through DNS)."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; supported: {', '.join(SERVICES)}")
        return self.static_urls if service == "static" else self.dynamic_urls

    @property
    def in_cluster(self) -> bool:
        """True when a namespace is known (a pod) or a DNS server was named explicitly (tests)."""
        return self.namespace is not None or self.dns_server is not None

    def hostname(self, service: str) -> str:
        """The chart's headless Service of ``service`` in cluster DNS."""
        return f"{self.release}-{service}.{self.namespace or 'default'}.svc.{self.cluster_domain}"
