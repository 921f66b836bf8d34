"""Where the computation services are: endpoint discovery and the per-service endpoint pool.

Endpoints come from, in order:

1. explicit URLs given to the client (one URL or a list per service);
2. the environment: ``BIOXEN_STATIC_URL`` / ``BIOXEN_DYNAMIC_URL`` (comma-separated lists allowed);
3. Kubernetes cluster DNS: the chart's headless Services ``<release>-static`` and ``<release>-dynamic``
   in the pod's namespace, resolved to *every* ready pod address (all A records of the answer).

An :class:`EndpointPool` hands endpoints out in shuffled round-robin order, drops an endpoint that
failed until it has been quiet for a back-off period (then gives it one more chance: if it answers it
is back), and, for DNS sources, re-resolves when the answer's TTL has expired or an endpoint failed.
An answer is kept at most ``BIOXEN_DNS_TTL_MAX_SECONDS`` (5 s, CoreDNS's default TTL) whatever TTL the
server gives: Docker's embedded DNS answers with 600 s, which would hide a new replica for ten minutes.
What comes from the environment is read once into :class:`~bioxen_vm.settings.ClientSettings`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .settings import DNS_TTL_MAX_SECONDS, ENV_URLS, ClientSettings, split_urls

log = logging.getLogger(__name__)

#: seconds a failed endpoint stays out of rotation before it gets another chance (doubles per failure)
DEAD_BACKOFF_SECONDS = 2.0
DEAD_BACKOFF_MAX_SECONDS = 30.0
#: shortest interval between two DNS look-ups of one name (a TTL of 0 must not mean a query per request)
MIN_RESOLVE_INTERVAL_SECONDS = 0.5


class DiscoveryError(Exception):
    """No endpoint could be found for a service (empty configuration or a DNS failure)."""


# -- sources ---------------------------------------------------------------------------------------
class StaticSource:
    """A fixed list of URLs (explicit arguments or environment)."""

    dynamic = False

    def __init__(self, urls: Sequence[str], origin: str):
        self.urls = list(urls)
        self.origin = origin

    def resolve(self) -> tuple[list[str], float]:
        return list(self.urls), float("inf")

    def describe(self) -> str:
        return f"{self.origin}: {', '.join(self.urls)}"


class DnsSource:
    """All A records of a headless Service name, with the answer's TTL capped at ``ttl_max`` (dnspython)."""

    dynamic = True

    def __init__(self, hostname: str, port: int, dns_server: str | None = None, timeout: float = 2.0,
                 ttl_max: float = DNS_TTL_MAX_SECONDS):
        import dns.resolver  # imported here: only cluster discovery needs it

        self.hostname = hostname
        self.port = port
        self.ttl_max = ttl_max
        if dns_server:
            host, _, server_port = dns_server.partition(":")
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [host]
            self._resolver.port = int(server_port or 53)
        else:
            self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout
        self.origin = f"dns {hostname}" + (f" @{dns_server}" if dns_server else "")

    def resolve(self) -> tuple[list[str], float]:
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolver.resolve(self.hostname, "A")
        except (dns.exception.DNSException, OSError) as exc:
            raise DiscoveryError(f"cannot resolve {self.hostname}: {exc}") from exc
        ttl = min(float(answer.rrset.ttl) if answer.rrset is not None else 0.0, self.ttl_max)
        urls = sorted(f"http://{record.address}:{self.port}" for record in answer)
        return urls, ttl

    def describe(self) -> str:
        return self.origin


def source_for(service: str, explicit: str | Sequence[str] | None = None,
               settings: ClientSettings | None = None):
    """The endpoint source of one service, following the discovery order."""
    settings = settings or ClientSettings.from_env()
    configured = settings.urls(service)
    urls = split_urls(explicit)
    if urls:
        return StaticSource(urls, "explicit")
    if configured:
        return StaticSource(configured, ENV_URLS[service])
    return DnsSource(settings.hostname(service), settings.service_port, settings.dns_server,
                     ttl_max=settings.dns_ttl_max)


def not_found_message(service: str, source, error: str | None) -> str:
    """One message for "no endpoint": what discovery tried (the URL settings, the DNS name and why it
    failed) and how to set the URLs."""
    env, flag = ENV_URLS[service], f"--{service}-url"
    tried = f"{flag} and {env} are not set"
    if isinstance(source, DnsSource):
        tried += f"; cluster DNS: {(error or f'no address for {source.hostname}').rstrip('.')}"
    elif error:
        tried += f"; {error}"
    return (f"no {service} service endpoint found ({tried}). Outside a cluster, give the URL: "
            f"{env}=http://HOST:PORT (comma-separated for several replicas) or {flag} on the command line "
            f"({service}_service_url= in Python)")


def endpoints_configured(service: str, explicit=None, settings: ClientSettings | None = None) -> bool:
    """Whether discovery has anything to go on (explicit, environment, or running in a cluster)."""
    settings = settings or ClientSettings.from_env()
    return bool(split_urls(explicit) or settings.urls(service) or settings.in_cluster)


# -- the pool ----------------------------------------------------------------------------------------
@dataclass
class _Dead:
    since: float
    until: float
    failures: int


class EndpointPool:
    """Endpoints of one service, handed out in shuffled round-robin order. Thread-safe."""

    def __init__(self, service: str, source, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str, int], None] | None = None, rng: random.Random | None = None):
        self.service = service
        self.source = source
        self._clock = clock
        self._on_change = on_change
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._urls: list[str] = []
        self._order: list[str] = []
        self._expires = float("-inf")
        self._last_resolve = float("-inf")
        self._stale = True
        self._dead: dict[str, _Dead] = {}
        self.last_error: str | None = None

    # -- resolution ---------------------------------------------------------------------------------
    def _refresh_locked(self) -> None:
        now = self._clock()
        due = self._stale or now >= self._expires
        if not due or (self._urls and now - self._last_resolve < MIN_RESOLVE_INTERVAL_SECONDS):
            return
        self._last_resolve = now
        try:
            urls, ttl = self.source.resolve()
        except DiscoveryError as exc:
            # said once per distinct failure: a client with nothing configured would otherwise repeat it
            # on every attempt of every request
            level = logging.DEBUG if str(exc) == self.last_error else logging.WARNING
            self.last_error = str(exc)
            if self._urls:
                log.log(level, "%s service: %s (keeping %d known endpoints)", self.service, exc, len(self._urls))
            else:
                log.debug("%s service: %s", self.service, exc)
            self._expires = now + MIN_RESOLVE_INTERVAL_SECONDS
            return
        self._stale = False
        self._expires = now + max(ttl, MIN_RESOLVE_INTERVAL_SECONDS)
        if set(urls) != set(self._urls):
            log.info("%s service endpoints (%s): %s", self.service, self.source.describe(), urls)
            self._urls = urls
            self._order = []
            self._dead = {u: d for u, d in self._dead.items() if u in urls}
            if self._on_change:
                self._on_change(self.service, len(urls))

    def endpoints(self) -> list[str]:
        """Every endpoint currently known (alive or not), refreshing the DNS answer if it expired."""
        with self._lock:
            self._refresh_locked()
            return list(self._urls)

    # -- hand-out -----------------------------------------------------------------------------------
    def next(self, exclude: Iterable[str] = ()) -> str | None:
        """The next endpoint to try, skipping dead ones and ``exclude``; None when there is none.

        A dead endpoint whose back-off has passed is offered again (one probe). When every endpoint
        is dead, the one that has waited longest is offered, so a recovered service is found.
        """
        exclude = set(exclude)
        with self._lock:
            self._refresh_locked()
            now = self._clock()
            candidates = [u for u in self._urls if u not in exclude]
            if not candidates:
                return None
            usable = [u for u in candidates if u not in self._dead or self._dead[u].until <= now]
            if not usable:
                return min(candidates, key=lambda u: self._dead[u].until)
            for _ in range(2):
                while self._order:
                    url = self._order.pop()
                    if url in usable:
                        return url
                self._order = list(self._urls)
                self._rng.shuffle(self._order)
            return usable[0]

    def mark_failed(self, url: str, reason: str) -> None:
        with self._lock:
            now = self._clock()
            previous = self._dead.get(url)
            failures = previous.failures + 1 if previous else 1
            backoff = min(DEAD_BACKOFF_SECONDS * 2 ** (failures - 1), DEAD_BACKOFF_MAX_SECONDS)
            self._dead[url] = _Dead(previous.since if previous else now, now + backoff, failures)
            self.last_error = f"{url}: {reason}"
            if self.source.dynamic:
                self._stale = True  # the pod may be gone: ask DNS again
        log.warning("%s service endpoint %s failed (%s); out of rotation for %.1f s",
                    self.service, url, reason, backoff)

    def mark_ok(self, url: str) -> None:
        if url not in self._dead:
            return
        with self._lock:
            if self._dead.pop(url, None) is not None:
                log.info("%s service endpoint %s answers again", self.service, url)

    def dead(self) -> list[str]:
        with self._lock:
            return sorted(self._dead)
