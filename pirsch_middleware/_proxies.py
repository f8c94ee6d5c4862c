"""Which peers may tell us the client's address, and reading what they tell.

Only a trusted peer's ``X-Forwarded-For`` / ``Forwarded`` / ``X-Forwarded-Proto`` /
``X-Forwarded-Host`` count, so a visitor can never choose the IP we report by sending
headers (uvicorn's ``ProxyHeadersMiddleware`` works the same way; Sentry's does not).
Everything left of what the trusted proxies appended is the visitor's to write, so the
headers are read from the right, and a hop nobody can vouch for ends the reading.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

__all__ = ["Forwarding", "TrustedProxies", "clean_ip", "parse_forwarded", "rightmost"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = ("127.0.0.0/8", "::1/128")
# A dotted quad as ipaddress writes it (no leading zeros, ASCII digits): nearly every
# address a server reports. Checked with this instead of parsed, which costs ~20 times more:
# a new visitor's address misses the caches below, and that was a third of a hit's cost.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
dotted_quad = _IPV4.fullmatch  # a match when a str is such an address as it is


@lru_cache(maxsize=4096)
def clean_ip(value: str) -> str | None:
    """A bare, normalised IP address from a header entry or peer address, else None.

    Strips ports (``1.2.3.4:80``, ``[::1]:80``), brackets, quotes and IPv6 zone ids, and
    turns IPv4-mapped IPv6 (``::ffff:1.2.3.4``, as dual-stack servers report) into IPv4.
    """
    if _IPV4.fullmatch(value):  # nearly always: a peer's dotted quad, as it is
        return value
    text = value.strip().strip('"').strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port; bare IPv6 has two or more colons
        text = text.partition(":")[0]
    text = text.partition("%")[0]
    if _IPV4.fullmatch(text):
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


class Forwarding(NamedTuple):
    """What the trusted proxies in front of a request say about its visitor.

    ``ip``: the visitor's address (the peer's when no trusted proxy said otherwise).
    ``proto`` and ``host``: the scheme and host the visitor asked for, from the same header
    family (and, for ``Forwarded``, the same element) as ``ip``; ``""`` when not said.
    """

    ip: str | None
    proto: str
    host: str


# RFC 7239 spells a hop that does not tell whom it received the request from "unknown".
UNKNOWN = "unknown"


class TrustedProxies:
    """The proxies whose forwarding headers we believe, by address or network.

    ``TrustedProxies("10.0.0.0/8, 127.0.0.1")``, or ``TrustedProxies()`` (loopback only).
    ``TrustedProxies("*")``: the peer is your one proxy, whatever its address (a cloud load
    balancer): the visitor is the address it appended, the rightmost ``X-Forwarded-For``
    entry, and nothing to its left is read. Addresses listed beside ``*`` count as further
    proxies inside the header. A peer with no address (a unix socket) can only be a local
    proxy, so it is trusted.
    """

    def __init__(self, spec: str | Iterable[str] | None = None) -> None:
        if spec is None:
            items: list[str] = list(LOOPBACK)
        elif isinstance(spec, str):
            items = [part.strip() for part in spec.split(",") if part.strip()]
        else:
            items = [str(part).strip() for part in spec if str(part).strip()]
        self.any_peer = "*" in items
        networks: list[IPNetwork] = []
        for item in items:
            if item == "*":
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {item!r} is not an IP address or CIDR network "
                    "(use e.g. '10.0.0.0/8, 127.0.0.1', or '*' for one proxy of any address)"
                ) from None
        self.networks = tuple(networks)
        # (network, mask) as integers, for the IPv4 networks: see _is_trusted.
        self._ipv4 = tuple((int(n.network_address), int(n.netmask)) for n in networks
                           if n.version == 4)
        listed = ", ".join(str(n) for n in networks)
        self._spec = ", ".join(part for part in ("*" if self.any_peer else "", listed) if part)
        self.is_trusted = lru_cache(maxsize=1024)(self._is_trusted)

    def __repr__(self) -> str:
        return f"TrustedProxies({self._spec!r})"

    def _is_trusted(self, address: str | None) -> bool:
        """Is ``address`` a listed proxy? (None: a unix-socket peer, a local proxy.)"""
        if address is None:
            return True
        if _IPV4.fullmatch(address):
            value = int.from_bytes(socket.inet_aton(address), "big")
            return any(value & mask == network for network, mask in self._ipv4)
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def trusts_peer(self, peer_ip: str | None) -> bool:
        """May the peer (a clean address, or None for a unix socket) forward for others?"""
        return self.any_peer or self.is_trusted(peer_ip)

    def client_ip(self, peer: str | None, forwarded_for: str | None,
                  forwarded: str | None) -> str | None:
        """The visitor's address: the peer's, unless the peer is a trusted proxy; then
        what ``resolve`` reads from its headers.

        >>> TrustedProxies().client_ip("127.0.0.1", "6.6.6.6, 198.51.100.1", None)
        '198.51.100.1'
        """
        return self.resolve(peer, forwarded_for, forwarded).ip

    def resolve(self, peer: str | None, forwarded_for: str | None, forwarded: str | None,
                forwarded_proto: str | None = None,
                forwarded_host: str | None = None) -> Forwarding:
        """Address, scheme and host of the visitor, as the trusted proxies tell them.

        Only a trusted peer's headers count, and only one family of them: the
        ``X-Forwarded-*`` headers when any is present (even empty), else ``Forwarded``.
        Address, scheme and host are never mixed from the two: a proxy that sets one
        family passes the other through from the visitor. From ``Forwarded``, scheme and
        host come from the element the address came from (the one the outermost trusted
        proxy wrote, describing the visitor's request).

        Hops are walked from the right: empty entries are skipped, trusted proxies
        passed, and the first other address is the visitor. A hop that is not an address
        (``unknown``, an obfuscated ``_hidden``, garbage) ends the walk: nothing to its
        left is believable, and the address to its right (the proxy that wrote it)
        stands. When every hop is a trusted proxy, the leftmost is the visitor.

        >>> TrustedProxies().resolve("127.0.0.1", None, 'for=6.6.6.6, for="_x";proto=https')
        Forwarding(ip='127.0.0.1', proto='https', host='')
        """
        peer_ip = clean_ip(peer) if peer else None
        if forwarded_for is None and forwarded_proto is None and forwarded_host is None:
            if forwarded is None:  # nothing forwarded: the peer, whoever it is
                return Forwarding(peer_ip, "", "")
            if not self.trusts_peer(peer_ip):
                return Forwarding(peer_ip, "", "")
            elements = parse_forwarded(forwarded)
            ip, at = self._walk(peer_ip, [element.get("for") or UNKNOWN
                                          for element in elements])
            said = elements[at] if at >= 0 else {}
            return Forwarding(ip, said.get("proto", "").strip().lower(),
                              said.get("host", "").strip())
        if not self.trusts_peer(peer_ip):
            return Forwarding(peer_ip, "", "")
        ip, _ = self._walk(peer_ip, forwarded_for.split(",")) if forwarded_for else (peer_ip, -1)
        return Forwarding(ip, rightmost(forwarded_proto).lower(), rightmost(forwarded_host))

    def through_proxies(self, peer: str | None, forwarded_for: str | None,
                        forwarded: str | None, forwarded_proto: str | None = None,
                        forwarded_host: str | None = None) -> bool:
        """Did the request come through trusted proxies only? The peer is one, and so is
        every hop of the header ``resolve`` reads: no address but a proxy's is in sight.

        >>> TrustedProxies("127.0.0.1, 10.0.0.0/8").through_proxies("127.0.0.1", "10.1.1.1", None)
        True
        >>> TrustedProxies().through_proxies("127.0.0.1", "6.6.6.6", None)
        False
        """
        peer_ip = clean_ip(peer) if peer else None
        if not self.trusts_peer(peer_ip):
            return False
        if forwarded is not None and forwarded_for is None and forwarded_proto is None \
                and forwarded_host is None:
            hops = [element.get("for") or UNKNOWN for element in parse_forwarded(forwarded)]
        else:
            hops = forwarded_for.split(",") if forwarded_for else []
        for hop in hops:
            if not hop.strip():
                continue
            address = clean_ip(hop)
            if address is None or not self.is_trusted(address):
                return False
        return True

    def header_ip(self, value: str, peer: str | None, forwarded_for: str | None,
                  forwarded: str | None, forwarded_proto: str | None = None,
                  forwarded_host: str | None = None) -> str | None:
        """The visitor's address from a header that the outermost proxy sets (a CDN's
        ``CF-Connecting-IP``: ``client_ip_header``), or None when it is not believed.

        Believed only when the request came through trusted proxies only
        (``through_proxies``): the outermost of them set it. A peer that is no proxy, or
        an address in the forwarding headers that is no proxy's (a visitor who reached
        the proxy in front of the app directly, past the CDN), means the visitor could
        have written it: the address ``resolve`` finds stands. Of several values, the
        rightmost (the nearest proxy's).

        >>> TrustedProxies("10.0.0.0/8").header_ip("198.51.100.7", "10.0.0.1", None, None)
        '198.51.100.7'
        >>> TrustedProxies("10.0.0.0/8").header_ip("198.51.100.7", "203.0.113.9", None, None)
        """
        address = clean_ip(rightmost(value)) if value else None
        if address is None or not self.through_proxies(peer, forwarded_for, forwarded,
                                                        forwarded_proto, forwarded_host):
            return None
        return address

    def _walk(self, peer_ip: str | None, hops: list[str]) -> tuple[str | None, int]:
        """(the visitor's address, the index of the hop the walk stopped at, or -1)."""
        ip, at = peer_ip, -1
        for index in range(len(hops) - 1, -1, -1):
            hop = hops[index].strip()
            if not hop:  # an empty list element (RFC 9110 5.6.1): no hop at all
                continue
            address = clean_ip(hop)
            if address is None:
                return ip, index
            if not self.is_trusted(address):
                return address, index
            ip, at = address, index
        return ip, at


def rightmost(value: str | None) -> str:
    """The rightmost entry of a list header: the one the nearest proxy wrote."""
    return value.rpartition(",")[2].strip() if value else ""


_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


def _elements(value: str) -> list[str]:
    """``Forwarded`` split into elements at the commas outside quoted strings, deciding
    what is quoted from the right: the proxies append well-formed elements there, while
    the left is the visitor's, whose unbalanced quote read from the left would swallow
    the elements appended after it (``for=6.6.6.6;x="`` + ``, for="[2001:db8::1]"``)."""
    if '"' not in value:
        return value.split(",")
    parts: list[str] = []
    end, quoted = len(value), False
    for index in range(len(value) - 1, -1, -1):
        char = value[index]
        if char == '"':
            if quoted:  # an opening quote, unless escaped by an odd run of backslashes
                start = index
                while start > 0 and value[start - 1] == "\\":
                    start -= 1
                if (index - start) % 2:
                    continue
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(value[index + 1:end])
            end = index
    parts.append(value[:end])
    parts.reverse()
    return parts


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded`` into one dict per element, names lower-cased, quotes removed.

    Empty elements are left out; an element with nothing readable is an empty dict, so
    that each hop keeps its place.

    >>> parse_forwarded('for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"')
    [{'for': '192.0.2.60', 'proto': 'https'}, {'for': '[2001:db8::1]:4711'}]
    """
    elements: list[dict[str, str]] = []
    for text in _elements(value):
        if not text.strip():
            continue
        current: dict[str, str] = {}
        pos, size = 0, len(text)
        while pos < size:
            match = _FORWARDED_PAIR.match(text, pos)
            if match:
                name, raw = match.group(1).lower(), match.group(2)
                if len(raw) > 1 and raw[0] == raw[-1] == '"':
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                current.setdefault(name, raw)
                pos = match.end()
            else:  # one bad pair must not hide the others: on to the next separator
                found = text.find(";", pos)
                pos = found if found >= 0 else size
            pos += 1  # the ';' after the pair
        elements.append(current)
    return elements
