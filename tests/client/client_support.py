"""Helpers of the client tests: a real dnsmasq on loopback serving the cluster names, replica sets of the
real services sharing one port on distinct 127.0.0.x addresses, and Prometheus text parsing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dns.resolver
import requests

from support import ServiceProcess, metric_value  # noqa: F401 (re-exported to the client tests)

DNSMASQ = "/usr/sbin/dnsmasq"
#: loopback addresses of the client tests' service replicas
STATIC_HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
DYNAMIC_HOSTS = ["127.0.0.5", "127.0.0.6"]
NAMESPACE = "default"


def cluster_name(service: str, release: str = "bioxen") -> str:
    return f"{release}-{service}.{NAMESPACE}.svc.cluster.local"


def free_dns_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host``: dnsmasq listens on both."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            try:
                with socket.socket() as tcp:
                    tcp.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free for UDP and TCP on {host}")


def port_free_on(hosts: list[str]) -> int:
    """A TCP port free on every one of ``hosts`` (headless Services put one port on many pod IPs)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((hosts[0], 0))
            port = first.getsockname()[1]
        try:
            for host in hosts[1:]:
                with socket.socket() as sock:
                    sock.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no common free port on {hosts}")


class DnsServer:
    """dnsmasq answering A queries from a hosts file (TTL 1 s); :meth:`update` rewrites it and sends
    SIGHUP, which makes dnsmasq re-read ``--addn-hosts``."""

    def __init__(self, records: dict[str, list[str]]):
        self.dir = Path(tempfile.mkdtemp(prefix="bioxen-dns-"))
        self.dir.chmod(0o755)
        self.hosts = self.dir / "hosts"
        self.port = free_dns_port()
        self.records = records
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write(self, records: dict[str, list[str]]) -> None:
        lines = [f"{ip} {name}" for name, ips in records.items() for ip in ips]
        tmp = self.hosts.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.chmod(0o644)
        tmp.replace(self.hosts)
        self.records = records

    def start(self, attempts: int = 3) -> "DnsServer":
        """Start dnsmasq; a port taken between choosing and binding it is retried on a new port."""
        for attempt in range(attempts):
            try:
                return self._start()
            except RuntimeError as exc:
                if "Address already in use" not in str(exc) or attempt == attempts - 1:
                    raise
                self.port = free_dns_port()
        raise AssertionError("unreachable")

    def _start(self) -> "DnsServer":
        self._write(self.records)
        cmd = [DNSMASQ, "--no-daemon", f"--port={self.port}", "--listen-address=127.0.0.1", "--bind-interfaces",
               "--no-resolv", "--no-hosts", f"--addn-hosts={self.hosts}", "--local-ttl=1",
               f"--pid-file={self.dir / 'pid'}", "--user=root" if os.geteuid() == 0 else "--user=",
               "--log-facility=-"]
        cmd = [c for c in cmd if c != "--user="]
        self.log = open(self.dir / "log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        name = next(iter(self.records))
        self.wait_for(name, sorted(self.records[name]))
        return self

    def resolve(self, name: str) -> list[str]:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.lifetime = 1.0
        try:
            return sorted(r.address for r in resolver.resolve(name, "A"))
        except Exception:
            return []

    def wait_for(self, name: str, ips: list[str], wait: float = 10.0) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {(self.dir / 'log').read_text()[-2000:]}")
            if self.resolve(name) == sorted(ips):
                return
            time.sleep(0.05)
        raise TimeoutError(f"dnsmasq does not answer {name} -> {ips}; got {self.resolve(name)}")

    def update(self, records: dict[str, list[str]]) -> None:
        self._write(records)
        self.proc.send_signal(signal.SIGHUP)
        for name, ips in records.items():
            self.wait_for(name, ips)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


class ReplicaSet:
    """Replicas of one service (1 worker each), one per address, all on the same port."""

    def __init__(self, service: str, hosts: list[str], port: int, preload: str):
        self.service = service
        self.replicas = {h: ServiceProcess(service, host=h, port=port, workers=1, preload=preload)
                         for h in hosts}

    def start(self) -> "ReplicaSet":
        started = []
        try:
            for proc in self.replicas.values():
                proc.start()
                started.append(proc)
        except BaseException:
            for proc in started:
                proc.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in self.replicas.values():
            proc.stop()

    def url(self, host: str) -> str:
        return self.replicas[host].url

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.replicas.values()]

    def requests_served(self, endpoint: str) -> dict[str, float]:
        """Successful POSTs to ``endpoint`` per replica, read from each replica's own /metrics."""
        return {host: metric_value(requests.get(proc.url + "/metrics", timeout=5).text,
                                   "bioxen_http_requests_total", endpoint=endpoint, method="POST", status="200")
                for host, proc in self.replicas.items()}


class FakeClock:
    """A monotonic clock the test advances by hand, so TTL expiry and back-off need no sleeping."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
