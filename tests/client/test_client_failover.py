"""Which failures the client sends to another replica, over real sockets (issue 10).

A request that never reached a service (connection refused) or got 503 goes to the next endpoint. A
request a service had and lost (it read the whole body, then closed or reset the connection, or never
answered) is not sent again while that replica still answers: one request that kills or hangs a worker
must not go on to kill or hang every replica. Only when the replica is gone altogether (nothing listens
any more: its pod was killed) is it sent once more, to another replica. The misbehaving replicas are small loopback HTTP servers that count what they receive;
the replica that answers is the real static service.
"""

from __future__ import annotations

import http.server
import json
import socket
import struct
import threading
import time

import pytest

from bioxen_vm import BiologicalComputationClient, ComputationLost, ServiceTimeout, Timeout
from bioxen_vm.transport import HTTPTransport, RequestsTransport
from support import free_port

HOSTS = ["127.0.0.31", "127.0.0.32", "127.0.0.33"]
TRANSPORTS = {"http.client": HTTPTransport, "requests": RequestsTransport}


class MisbehavingReplica:
    """A loopback HTTP/1.1 server that reads each request whole, counts it, then:

    - ``"close"``: closes the connection without answering (a worker killed mid-computation);
    - ``"reset"``: resets it (RST, SO_LINGER 0);
    - ``"hang"``: never answers until the server stops (a worker stuck in one C call);
    - ``"503"``: answers 503 not_ready (the service did not start the computation);
    - ``"keepalive"``: answers 200 without ``Connection: close`` and then closes the idle connection,
      as servers do after their keep-alive timeout;
    - ``"die"``: closes the connection and stops listening (a replica whose pod was killed).

    ``requests`` lists the computations received (the client's ``/healthz`` probes are not counted).
    """

    def __init__(self, host: str, behaviour: str):
        self.behaviour = behaviour
        self.requests: list[str] = []
        self.connections = 0
        self.stop = threading.Event()
        replica = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                replica.connections += 1

            def do_GET(self):
                self.do_POST()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if self.path != "/healthz":
                    replica.requests.append(self.path)
                if replica.behaviour == "die":
                    replica._server.socket.shutdown(socket.SHUT_RDWR)  # connections refused from now on
                    self.close_connection = True
                elif replica.behaviour == "close":
                    self.close_connection = True
                elif replica.behaviour == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                elif replica.behaviour == "hang":
                    replica.stop.wait(30)
                    self.close_connection = True
                else:
                    status, body = ((503, {"error": {"code": "not_ready", "message": "still loading models",
                                                     "request_id": "r"}})
                                    if replica.behaviour == "503" else (200, {"status": "optimal"}))
                    data = json.dumps(body).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    self.close_connection = replica.behaviour == "keepalive"

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "MisbehavingReplica":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()


def client_for(urls, transport: str, **kwargs) -> BiologicalComputationClient:
    kwargs.setdefault("retries", 3)
    kwargs.setdefault("backoff", 0.001)
    return BiologicalComputationClient(list(urls), list(urls), transport=TRANSPORTS[transport](), environ={},
                                       **kwargs)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_a_request_dropped_after_it_was_sent_reaches_one_replica_only(behaviour, transport):
    with MisbehavingReplica(HOSTS[0], behaviour) as a, MisbehavingReplica(HOSTS[1], behaviour) as b, \
            MisbehavingReplica(HOSTS[2], behaviour) as c:
        with client_for([a.url, b.url, c.url], transport) as client:
            with pytest.raises(ComputationLost) as info:
                client.simulate("gene_expression", end=100, points=1000)
        assert [len(r.requests) for r in (a, b, c)].count(1) == 1, "sent to more than one replica"
        assert sum(len(r.requests) for r in (a, b, c)) == 1
    assert not isinstance(info.value, ServiceTimeout)
    message = str(info.value)
    assert message.startswith("dynamic service lost the computation: POST http://127.0.0.3"), message
    assert "/v1/simulate: the connection dropped after the request was sent" in message
    assert "It was not retried: the service may have been computing it" in message
    assert "client.submit" in message and "smaller requests" in message
    assert info.value.endpoint in (a.url, b.url, c.url)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_request_lost_with_its_whole_replica_is_sent_once_more_elsewhere(transport):
    """The replica read the request and then vanished (nothing listens: a killed pod). The request can
    only have killed an engine process, which a live front answers with a 500, so it goes once more to
    another replica, and only once: the second one dies too, and the third never sees it."""
    with MisbehavingReplica(HOSTS[0], "die") as a, MisbehavingReplica(HOSTS[1], "die") as b, \
            MisbehavingReplica(HOSTS[2], "ok") as c:
        with client_for([a.url, b.url], transport) as client:
            with pytest.raises(ComputationLost):
                client.fba("e_coli_core")
        assert len(a.requests) + len(b.requests) == 2  # the first try, and one more

    with MisbehavingReplica(HOSTS[0], "die") as a, MisbehavingReplica(HOSTS[2], "ok") as c:
        with client_for([a.url, c.url], transport) as client:
            answers = [client.fba("e_coli_core") for _ in range(2)]  # round robin: one starts at a
        assert answers == [{"status": "optimal"}] * 2
        assert len(a.requests) == 1 and len(c.requests) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_request_that_hangs_its_replica_is_not_sent_to_the_next(transport):
    with MisbehavingReplica(HOSTS[0], "hang") as a, MisbehavingReplica(HOSTS[1], "hang") as b, \
            MisbehavingReplica(HOSTS[2], "hang") as c:
        with client_for([a.url, b.url, c.url], transport, timeout=(1.0, 0.5)) as client:
            with pytest.raises(ServiceTimeout, match=r"no answer within 0\.5 s\. It was not retried"):
                client.fba("e_coli_core")
        assert sum(len(r.requests) for r in (a, b, c)) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_refused_connection_fails_over_to_the_replica_that_answers(transport, static_url, reference_ecoli):
    refused = f"http://{HOSTS[0]}:{free_port(HOSTS[0])}"  # nothing listens there: connection refused
    with client_for([refused, static_url], transport) as client:
        for _ in range(4):  # round robin over a shuffled list: the refused endpoint comes first at least once
            answer = client.fba("e_coli_core", fluxes=[])
            assert answer["objective_value"] == pytest.approx(reference_ecoli.slim_optimize(), rel=1e-9)
        assert client.pools["static"].dead() == [refused]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_503_is_still_sent_to_another_replica(transport, static_url, reference_ecoli):
    with MisbehavingReplica(HOSTS[1], "503") as loading:
        with client_for([loading.url, static_url], transport) as client:
            for _ in range(4):
                answer = client.fba("e_coli_core", fluxes=[])
                assert answer["objective_value"] == pytest.approx(reference_ecoli.slim_optimize(), rel=1e-9)
            assert client.pools["static"].dead() == [loading.url]
        assert len(loading.requests) >= 1


def test_a_kept_alive_connection_the_server_closed_is_replaced_not_reported_lost():
    """After an answer the server closes the idle connection; the next request must open a new one
    rather than write into the closed one and report the computation lost."""
    with MisbehavingReplica(HOSTS[2], "keepalive") as server:
        with client_for([server.url], "http.client", retries=0) as client:
            for _ in range(3):
                assert client.request("static", "POST", "/v1/fba", {"model": {"id": "m"}}) == {"status": "optimal"}
                time.sleep(0.05)  # let the server's close reach this side
        assert len(server.requests) == 3 and server.connections == 3
