"""Batches over the standard library's connection (``_wire``): one keep-alive connection,
replaced when the server closed it; timeouts and refusals; oAuth; TLS verification; and
httpx instead wherever a proxy from the environment applies, as httpx decides it.

Real sockets on loopback throughout: a scripted server (``tests/wire_server.py``) or the
local receiver.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from pirsch_middleware._config import TrackerOptions
from pirsch_middleware._delivery import Delivery, Outcome
from pirsch_middleware._items import HIT
from pirsch_middleware._wire import env_proxy
from pirsch_middleware.devserver import DevServer

from .integration.harness import free_port, wait_until
from .wire_server import Drop, ScriptedServer

KEY = "pa_test"
PROXY_VARIABLES = [f"{scheme}_{case}" for scheme in ("http", "https", "all", "no")
                   for case in ("proxy", "PROXY")]


@pytest.fixture(autouse=True)
def _no_proxy_or_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the variables it is about; the machine's own would change the path."""
    for name in [*PROXY_VARIABLES, "SSL_CERT_FILE", "SSL_CERT_DIR"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def deliveries() -> Iterator[list[Delivery]]:
    made: list[Delivery] = []
    yield made
    for delivery in made:
        delivery.close()


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    made: list[ScriptedServer] = []
    yield made
    for server in made:
        server.stop()


def accept(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def serve(servers: list[ScriptedServer], answer: Any = accept,
          tls: ssl.SSLContext | None = None) -> ScriptedServer:
    servers.append(ScriptedServer(answer, tls=tls).start())
    return servers[-1]


def delivery(made: list[Delivery], base_url: str, **options: Any) -> Delivery:
    options.setdefault("access_key", KEY)
    made.append(Delivery(TrackerOptions.build({"base_url": base_url, **options}, {}),
                         retry_base=0.5, retry_cap=30.0))
    return made[-1]


# -- keep-alive and reconnecting ---------------------------------------------------------

def test_one_connection_carries_every_batch(servers: list[ScriptedServer],
                                            deliveries: list[Delivery]) -> None:
    server = serve(servers)
    sender = delivery(deliveries, server.base_url)
    for n in range(3):
        assert sender.send(HIT, [b'{"n":%d}' % n]) == Outcome(sent=1)
    assert sender.sender == "http.client"
    assert (len(server.requests), server.connections) == (3, 1)
    assert [r.content for r in server.requests] == [b'[{"n":0}]', b'[{"n":1}]', b'[{"n":2}]']


def test_a_connection_the_server_closed_while_idle_is_replaced(
        servers: list[ScriptedServer], deliveries: list[Delivery]) -> None:
    """Servers close idle keep-alive connections (nginx after 75 s): not a failure."""
    server = serve(servers)
    sender = delivery(deliveries, server.base_url)
    assert sender.send(HIT, [b"{}"]) == Outcome(sent=1)
    server.close_idle()
    assert sender.send(HIT, [b"{}", b"{}"]) == Outcome(sent=2)  # no retry_in: no failure
    assert server.connections == 2
    assert [r.content for r in server.requests] == [b"[{}]", b"[{},{}]"]  # nothing twice


def test_a_request_lost_on_a_reused_connection_goes_once_more_on_a_fresh_one(
        servers: list[ScriptedServer], deliveries: list[Delivery]) -> None:
    """The server closed the connection just as the request arrived (no byte answered):
    the race every keep-alive client meets; the request goes again, once."""
    def answer(request: httpx.Request) -> httpx.Response:
        if len(server.requests) == 2:
            raise Drop
        return httpx.Response(200)

    server = serve(servers, answer)
    sender = delivery(deliveries, server.base_url)
    assert sender.send(HIT, [b'{"n":1}']) == Outcome(sent=1)
    assert sender.send(HIT, [b'{"n":2}']) == Outcome(sent=1)
    assert [r.content for r in server.requests] == [b'[{"n":1}]', b'[{"n":2}]', b'[{"n":2}]']
    assert server.connections == 2


def test_a_request_lost_on_a_fresh_connection_is_a_failed_attempt(
        servers: list[ScriptedServer], deliveries: list[Delivery]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise Drop

    server = serve(servers, answer)
    outcome = delivery(deliveries, server.base_url).send(HIT, [b"{}"])
    assert (outcome.sent, outcome.permanent) == (0, False)
    assert outcome.retry_in > 0
    assert "(RemoteProtocolError: Server disconnected without sending a response.)" \
        in outcome.problem
    assert len(server.requests) == 1  # not sent again: the server may have acted on it


def test_close_ends_the_connection(servers: list[ScriptedServer],
                                   deliveries: list[Delivery]) -> None:
    server = serve(servers)
    sender = delivery(deliveries, server.base_url)
    sender.send(HIT, [b"{}"])
    assert server.open_connections == 1
    sender.close()
    assert wait_until(lambda: server.open_connections == 0, 5)


def test_an_error_status_from_the_server_ends_the_connection_only_for_5xx(
        servers: list[ScriptedServer], deliveries: list[Delivery]) -> None:
    """Keep-alive across 4xx (a 400 splits a batch into many requests); after a 5xx the
    next attempt may reach another backend behind the balancer."""
    codes = iter([400, 200, 503, 200])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(codes))

    server = serve(servers, answer)
    sender = delivery(deliveries, server.base_url)
    assert sender.send(HIT, [b"{}"]).failed == 1
    assert sender.send(HIT, [b"{}"]) == Outcome(sent=1)
    assert server.connections == 1
    assert sender.send(HIT, [b"{}"]).retry_in > 0
    assert sender.send(HIT, [b"{}"]) == Outcome(sent=1)
    assert server.connections == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("sender", ["http.client", "httpx"])
def test_a_forked_child_neither_uses_nor_shuts_its_parents_connection(
        sender: str, servers: list[ScriptedServer], deliveries: list[Delivery],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(servers)
    base_url = server.base_url
    if sender == "httpx":  # what sends through httpx without a transport: a proxy
        monkeypatch.setenv("HTTP_PROXY", server.base_url)
        base_url = "http://pirsch.invalid"
    parent = delivery(deliveries, base_url)
    assert parent.send(HIT, [b'{"n":1}']) == Outcome(sent=1)
    pid = os.fork()
    if pid == 0:  # the child, as the tracker's fork hook leaves it
        code = 1
        try:
            parent.abandon()
            code = 0 if parent.send(HIT, [b'{"n":2}']) == Outcome(sent=1) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent.send(HIT, [b'{"n":3}']) == Outcome(sent=1)
    assert parent.sender == sender
    assert [r.content for r in server.requests] == [b'[{"n":1}]', b'[{"n":2}]', b'[{"n":3}]']
    assert server.connections == 2  # the child's own; the parent's still carries its own


# -- failures ------------------------------------------------------------------------------

def test_a_hanging_server_times_out_after_the_timeout(servers: list[ScriptedServer],
                                                      deliveries: list[Delivery]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        server.released.wait(10)  # until the test ends
        return httpx.Response(200)

    server = serve(servers, answer)
    started = time.monotonic()
    outcome = delivery(deliveries, server.base_url, timeout=0.3).send(HIT, [b"{}"])
    assert 0.25 <= time.monotonic() - started < 3
    assert outcome.sent == 0
    assert outcome.retry_in > 0
    assert "(ReadTimeout: timed out)" in outcome.problem


def test_connection_refused_is_retried_and_names_the_base_url(
        deliveries: list[Delivery]) -> None:
    base_url = f"http://127.0.0.1:{free_port()}"
    outcome = delivery(deliveries, base_url).send(HIT, [b"{}"])
    assert (outcome.sent, outcome.permanent) == (0, False)
    assert outcome.retry_in > 0
    assert outcome.problem.startswith(f"cannot reach {base_url} (ConnectError: ")
    assert "refused" in outcome.problem
    assert outcome.problem.endswith("check PIRSCH_BASE_URL (base_url) and that this server "
                                    "can reach it")


# -- oAuth ---------------------------------------------------------------------------------

def hit(n: int) -> bytes:
    """An encoded page view of https://example.com/n, as the flusher sends it."""
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return (f'{{"url":"https://example.com/{n}","ip":"203.0.113.1","user_agent":'
            f'"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0","time":"{now}"}}').encode()


def test_oauth_token_fetched_once_and_renewed_on_401() -> None:
    with DevServer() as receiver:
        sender = Delivery(TrackerOptions.build({
            "base_url": receiver.base_url, "client_id": receiver.client_id,
            "client_secret": receiver.client_secret}, {}))
        try:
            assert sender.send(HIT, [hit(1)]) == Outcome(sent=1)
            assert sender.send(HIT, [hit(2)]) == Outcome(sent=1)
            assert receiver.token_requests == 1
            receiver.expire_tokens()
            # The 401 is answered by a new token and the batch sent again: no retry.
            assert sender.send(HIT, [hit(3)]) == Outcome(sent=1)
            assert sender.sender == "http.client"
        finally:
            sender.close()
        assert receiver.token_requests == 2
        assert [h["url"] for h in receiver.hits] == [f"https://example.com/{n}"
                                                     for n in (1, 2, 3)]


def test_oauth_client_refused_is_permanent_and_says_what_to_fix() -> None:
    with DevServer() as receiver:
        sender = Delivery(TrackerOptions.build({
            "base_url": receiver.base_url, "client_id": receiver.client_id,
            "client_secret": "x" * 64}, {}), retry_cap=30.0)
        try:
            outcome = sender.send(HIT, [hit(1)])
        finally:
            sender.close()
    assert (outcome.sent, outcome.permanent, outcome.retry_in) == (0, True, 30.0)
    assert "Check PIRSCH_CLIENT_ID and PIRSCH_CLIENT_SECRET" in outcome.problem
    assert "x" * 64 not in outcome.problem


# -- TLS -----------------------------------------------------------------------------------

def certificates(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A test CA (its PEM file) and a server context with a certificate it signed for
    127.0.0.1; made with ``cryptography`` (``trustme`` is not installed here)."""
    pytest.importorskip("cryptography", reason="cryptography makes the test certificates "
                        "(pip install cryptography)")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pirsch-middleware test CA")])

    def builder(subject: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(hours=1))
                .not_valid_after(now + timedelta(days=1))
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False))

    ca = (builder(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
                    key.public_key())
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, chain = directory / "ca.pem", directory / "server.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return ca_file, context


def test_https_to_a_server_with_an_unknown_ca_is_refused(
        tmp_path: Path, servers: list[ScriptedServer], deliveries: list[Delivery]) -> None:
    _, context = certificates(tmp_path)
    server = serve(servers, tls=context)
    outcome = delivery(deliveries, server.base_url).send(HIT, [b"{}"])
    assert outcome.sent == 0
    assert "(ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED]" in outcome.problem
    assert server.requests == []


def test_https_trusts_the_ca_named_by_ssl_cert_file(
        tmp_path: Path, servers: list[ScriptedServer], deliveries: list[Delivery],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As httpx 0.28 does by default; verification stays on (hostname included)."""
    ca_file, context = certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    server = serve(servers, tls=context)
    sender = delivery(deliveries, server.base_url)
    assert sender.send(HIT, [b"{}"]) == Outcome(sent=1)
    assert sender.send(HIT, [b"{}"]) == Outcome(sent=1)
    assert (sender.sender, server.connections) == ("http.client", 1)
    other_name = delivery(deliveries, server.base_url.replace("127.0.0.1", "localhost"))
    assert "CERTIFICATE_VERIFY_FAILED" in other_name.send(HIT, [b"{}"]).problem


def test_an_ssl_cert_file_that_cannot_be_read_is_named(
        tmp_path: Path, deliveries: list[Delivery], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outcome = delivery(deliveries, f"https://127.0.0.1:{port}").send(HIT, [b"{}"])
    assert "cannot load the CA certificates named by SSL_CERT_FILE / SSL_CERT_DIR" \
        in outcome.problem
    assert outcome.retry_in > 0


# -- proxies: httpx sends, as it always did ------------------------------------------------

def test_a_proxy_from_the_environment_sends_through_httpx(
        servers: list[ScriptedServer], deliveries: list[Delivery],
        monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = serve(servers)
    monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
    sender = delivery(deliveries, "http://pirsch.invalid")  # only the proxy can reach it
    assert sender.send(HIT, [b"{}"]) == Outcome(sent=1)
    assert sender.sender == "httpx"
    assert [str(r.url) for r in proxy.requests] == ["http://pirsch.invalid/api/v1/hit/batch"]
    assert proxy.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_no_proxy_for_the_host_keeps_the_direct_connection(
        servers: list[ScriptedServer], deliveries: list[Delivery],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(servers)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.1")
    sender = delivery(deliveries, server.base_url)
    assert sender.send(HIT, [b"{}"]) == Outcome(sent=1)
    assert sender.sender == "http.client"


PROXY = "http://proxy.internal:3128"
PROXY_CASES: list[tuple[dict[str, str], str]] = [
    ({}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY}, "https://api.pirsch.io"),
    ({"https_proxy": PROXY}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY}, "http://api.pirsch.io"),
    ({"HTTP_PROXY": PROXY}, "http://127.0.0.1:8000"),
    ({"HTTP_PROXY": PROXY}, "https://api.pirsch.io"),
    ({"ALL_PROXY": PROXY}, "https://api.pirsch.io"),
    ({"ALL_PROXY": "proxy.internal:3128"}, "http://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "a.org, *"}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "pirsch.io"}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "pirsch.io"}, "https://pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "pirsch.io"}, "https://notpirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": ".pirsch.io"}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": ".pirsch.io"}, "https://pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "no_proxy": "API.Pirsch.io"}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "api.pirsch.io:8443"}, "https://api.pirsch.io"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "api.pirsch.io:8443"}, "https://api.pirsch.io:8443"),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "https://api.pirsch.io"}, "https://api.pirsch.io"),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "https://api.pirsch.io"}, "http://api.pirsch.io"),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "127.0.0.1"}, "http://127.0.0.1:8000"),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "127.0.0.0/8"}, "http://127.0.0.1:8000"),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "localhost"}, "http://localhost:8000"),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "::1"}, "http://[::1]:8000"),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "other.org,api.pirsch.io"}, "http://api.pirsch.io"),
]


@pytest.mark.parametrize(("environ", "url"), PROXY_CASES,
                         ids=[f"{e}-{u}" for e, u in PROXY_CASES])
def test_proxy_applies_exactly_where_httpx_would_use_one(
        environ: dict[str, str], url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with httpx.Client() as client:
        if not hasattr(client, "_transport_for_url"):
            pytest.skip("this httpx does not say which transport a URL gets")
        proxied = client._transport_for_url(httpx.URL(url)) is not client._transport
    assert (env_proxy(url) is not None) == proxied
