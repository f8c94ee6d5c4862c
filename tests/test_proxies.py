"""Client addresses and forwarding headers, entry by entry."""

from __future__ import annotations

import pytest

from pirsch_middleware._proxies import (
    Forwarding,
    TrustedProxies,
    clean_ip,
    parse_forwarded,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("203.0.113.1", "203.0.113.1"),
    (" 203.0.113.1:8080 ", "203.0.113.1"),
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("[2001:db8::1]", "2001:db8::1"),
    ("2001:DB8::1", "2001:db8::1"),
    ('"[2001:db8::1]:4711"', "2001:db8::1"),
    ("fe80::1%eth0", "fe80::1"),
    ("::ffff:198.51.100.1", "198.51.100.1"),
    ("unknown", None),
    ("_hidden", None),
    ("", None),
    ("999.1.1.1", None),
    ("[2001:db8::1", None),
    ("1" * 100, None),
    # dotted quads are checked, not parsed: they must read as ipaddress reads them
    ("0.0.0.0", "0.0.0.0"),
    ("255.255.255.255", "255.255.255.255"),
    ("256.1.1.1", None),
    ("01.2.3.4", None),
    ("1.2.3", None),
    ("1.2.3.4.5", None),
    ("1.2.3.4 5", None),
    ("\u0661.2.3.4", None),  # an Arabic-Indic digit one: isdigit(), not an address
])
def test_clean_ip(raw: str, expected: str | None) -> None:
    assert clean_ip(raw) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("for=192.0.2.60;proto=http;by=203.0.113.43",
     [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}]),
    ('for="[2001:db8:cafe::17]:4711", for=198.51.100.17',
     [{"for": "[2001:db8:cafe::17]:4711"}, {"for": "198.51.100.17"}]),
    ('For="_gazonk"; Host="a\\"b"', [{"for": "_gazonk", "host": 'a"b'}]),
    ('for="a,b";host=x, for=1.2.3.4', [{"for": "a,b", "host": "x"}, {"for": "1.2.3.4"}]),
    ("for=1.2.3.4;garbage;proto=https", [{"for": "1.2.3.4", "proto": "https"}]),
    # a hop with nothing readable keeps its place (it ends the walk); empty ones go
    ("garbage, for=1.2.3.4", [{}, {"for": "1.2.3.4"}]),
    (", for=1.2.3.4,,", [{"for": "1.2.3.4"}]),
    # the visitor's unbalanced quote on the left cannot swallow what a proxy appended
    ('for=6.6.6.6;x=", for="[2001:db8::1]:4711"',
     [{"for": "6.6.6.6", "x": '"'}, {"for": "[2001:db8::1]:4711"}]),
    ('for="6.6.6.6\\", for="[2001:db8::2]"',
     [{"for": "6.6.6.6\\"}, {"for": "[2001:db8::2]"}]),
    ("", []),
])
def test_parse_forwarded(value: str, expected: list[dict[str, str]]) -> None:
    assert parse_forwarded(value) == expected


LO = "127.0.0.1"  # a trusted proxy under the default (loopback)


@pytest.mark.parametrize(("spec", "peer", "xff", "forwarded", "expected"), [
    # only a trusted peer's headers count
    (None, "198.51.100.1", "1.1.1.1", None, "198.51.100.1"),
    ("10.0.0.0/8", LO, "1.1.1.1", None, LO),
    (None, LO, "1.1.1.1", None, "1.1.1.1"),
    (None, LO, None, "for=1.1.1.2", "1.1.1.2"),
    (None, LO, None, None, LO),
    (None, None, None, None, None),
    # read from the right: trusted hops passed, the first other address is the visitor
    ("10.0.0.0/8, 192.168.0.1", "192.168.0.1", "6.6.6.6, 1.1.1.4, 10.0.0.2", None,
     "1.1.1.4"),
    (None, LO, "127.0.0.9, 127.0.0.8", None, "127.0.0.9"),  # every hop trusted: leftmost
    (None, LO, "198.51.100.4:5555, , ", None, "198.51.100.4"),  # empty entries: no hops
    # a hop that is not an address ends the walk: the proxy that wrote it stands
    (None, LO, "6.6.6.6, unknown", None, LO),
    (None, LO, "6.6.6.6, _hidden", None, LO),
    (None, LO, "6.6.6.6, garbage", None, LO),
    ("10.0.0.0/8, 127.0.0.1", LO, "6.6.6.6, unknown, 10.0.0.2", None, "10.0.0.2"),
    (None, LO, None, "for=6.6.6.6, for=unknown", LO),
    (None, LO, None, 'for=6.6.6.6, for="_hidden"', LO),
    (None, LO, None, "for=6.6.6.6, proto=https", LO),  # an element without for=
    (None, LO, None, 'for=6.6.6.6;x=", for="[2001:db8::1]:4711"', "2001:db8::1"),
    # one family: X-Forwarded-For, when present at all, and never Forwarded beside it
    (None, LO, "1.1.1.3", "for=9.9.9.9", "1.1.1.3"),
    (None, LO, "", "for=6.6.6.6", LO),
    # '*': the peer is the one proxy, whatever its address; only what it appended counts
    ("*", "8.8.8.8", "1.1.1.5", None, "1.1.1.5"),
    ("*", "8.8.8.8", "6.6.6.6, 1.1.1.5", None, "1.1.1.5"),
    ("*", "8.8.8.8", "6.6.6.6, 127.0.0.1", None, LO),
    ("*", "8.8.8.8", "6.6.6.6, unknown", None, "8.8.8.8"),
    ("*", "8.8.8.8", None, "for=6.6.6.6, for=1.1.1.6", "1.1.1.6"),
    ("*", "8.8.8.8", None, None, "8.8.8.8"),
    ("*, 10.0.0.0/8", "8.8.8.8", "6.6.6.6, 1.1.1.7, 10.0.0.3", None, "1.1.1.7"),
    # Google's load balancers append the client, then their own external address
    ("*, 203.0.113.10", "35.191.0.7", "6.6.6.6, 1.1.1.8, 203.0.113.10", None, "1.1.1.8"),
])
def test_client_ip(spec: str | None, peer: str | None, xff: str | None,
                   forwarded: str | None, expected: str | None) -> None:
    assert TrustedProxies(spec).client_ip(peer, xff, forwarded) == expected


@pytest.mark.parametrize(("spec", "peer", "headers", "expected"), [
    (None, "203.0.113.9", {"xfp": "https", "xfh": "evil.example"},
     Forwarding("203.0.113.9", "", "")),
    (None, LO, {"xff": "198.51.100.1", "xfp": "HTTPS", "xfh": "evil.example, www.example.com"},
     Forwarding("198.51.100.1", "https", "www.example.com")),
    # a proxy that sets X-Forwarded-* passes a visitor's Forwarded through: not read
    (None, LO, {"xff": "198.51.100.1", "xfp": "https",
                "fwd": "for=6.6.6.6;proto=http;host=evil.example"},
     Forwarding("198.51.100.1", "https", "")),
    (None, LO, {"xfp": "https", "fwd": "for=6.6.6.6;host=evil.example"},
     Forwarding(LO, "https", "")),
    # Forwarded: scheme and host of the element the address came from
    (None, LO, {"fwd": "for=6.6.6.6;host=evil.example, for=198.51.100.2;proto=https;"
                       "host=www.example.com, for=127.0.0.2;proto=http;host=inner"},
     Forwarding("198.51.100.2", "https", "www.example.com")),
    (None, LO, {"fwd": "for=6.6.6.6;host=evil.example, for=unknown;proto=https;"
                       "host=www.example.com"},
     Forwarding(LO, "https", "www.example.com")),
    (None, LO, {"fwd": "proto=https"}, Forwarding(LO, "https", "")),
    ("*", "8.8.8.8", {"fwd": "for=6.6.6.6;host=evil.example, for=198.51.100.3;proto=https;"
                             "host=www.example.com"},
     Forwarding("198.51.100.3", "https", "www.example.com")),
])
def test_resolve_never_mixes_header_families(spec: str | None, peer: str,
                                             headers: dict[str, str],
                                             expected: Forwarding) -> None:
    assert TrustedProxies(spec).resolve(peer, headers.get("xff"), headers.get("fwd"),
                                        headers.get("xfp"), headers.get("xfh")) == expected


@pytest.mark.parametrize(("spec", "expected"), [
    ("10.0.0.1, ::1", "TrustedProxies('10.0.0.1/32, ::1/128')"),
    ("*", "TrustedProxies('*')"),
    ("10.0.0.0/8, *", "TrustedProxies('*, 10.0.0.0/8')"),
])
def test_repr_lists_networks(spec: str, expected: str) -> None:
    assert repr(TrustedProxies(spec)) == expected


def test_star_trusts_any_peer_but_no_hop() -> None:
    proxies = TrustedProxies("*")
    assert proxies.trusts_peer("203.0.113.1")
    assert not proxies.is_trusted("203.0.113.1")


@pytest.mark.parametrize(("spec", "address", "expected"), [
    (None, "127.0.0.1", True),
    (None, "127.255.255.254", True),
    (None, "128.0.0.1", False),
    ("10.0.0.0/8, 192.168.1.7", "10.200.3.4", True),
    ("10.0.0.0/8, 192.168.1.7", "192.168.1.7", True),
    ("10.0.0.0/8, 192.168.1.7", "192.168.1.8", False),
    ("0.0.0.0/0", "203.0.113.9", True),
    ("::/0", "203.0.113.9", False),  # an IPv6 network holds no IPv4 address
    ("2001:db8::/32", "2001:db8::1", True),
    ("10.0.0.0/8", "::ffff:10.0.0.1", False),  # clean_ip maps these before asking
])
def test_is_trusted(spec: str | None, address: str, expected: bool) -> None:
    assert TrustedProxies(spec).is_trusted(address) is expected
