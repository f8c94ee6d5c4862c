"""Client addresses and forwarding headers, entry by entry."""

from __future__ import annotations

import pytest

from pirsch_middleware._proxies import TrustedProxies, clean_ip, parse_forwarded


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
])
def test_clean_ip(raw: str, expected: str | None) -> None:
    assert clean_ip(raw) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("for=192.0.2.60;proto=http;by=203.0.113.43",
     [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}]),
    ('for="[2001:db8:cafe::17]:4711", for=198.51.100.17',
     [{"for": "[2001:db8:cafe::17]:4711"}, {"for": "198.51.100.17"}]),
    ('For="_gazonk"; Host="a\\"b"', [{"for": "_gazonk", "host": 'a"b'}]),
    ("garbage, for=1.2.3.4", [{"for": "1.2.3.4"}]),
    ("", []),
])
def test_parse_forwarded(value: str, expected: list[dict[str, str]]) -> None:
    assert parse_forwarded(value) == expected


@pytest.mark.parametrize(("spec", "peer", "xff", "forwarded", "expected"), [
    (None, "198.51.100.1", "1.1.1.1", None, "198.51.100.1"),
    (None, "127.0.0.1", "1.1.1.1", None, "1.1.1.1"),
    (None, "127.0.0.1", None, "for=1.1.1.2", "1.1.1.2"),
    (None, "127.0.0.1", "1.1.1.3", "for=9.9.9.9", "1.1.1.3"),
    (None, "127.0.0.1", None, None, "127.0.0.1"),
    ("10.0.0.0/8", "127.0.0.1", "1.1.1.1", None, "127.0.0.1"),
    ("10.0.0.0/8, 192.168.0.1", "192.168.0.1", "1.1.1.4, 10.0.0.2", None, "1.1.1.4"),
    ("*", "8.8.8.8", "1.1.1.5, 8.8.4.4", None, "1.1.1.5"),
    (None, "127.0.0.1", "garbage", None, "127.0.0.1"),
    (None, None, None, None, None),
])
def test_client_ip(spec: str | None, peer: str | None, xff: str | None,
                   forwarded: str | None, expected: str | None) -> None:
    assert TrustedProxies(spec).client_ip(peer, xff, forwarded) == expected


def test_repr_lists_networks() -> None:
    assert repr(TrustedProxies("10.0.0.1, ::1")) == "TrustedProxies('10.0.0.1/32, ::1/128')"
