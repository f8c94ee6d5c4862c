"""Which peers may tell us the client's address, and reading what they tell.

Only a trusted peer's ``X-Forwarded-For`` / ``Forwarded`` / ``X-Forwarded-Proto`` /
``X-Forwarded-Host`` count, so a visitor can never choose the IP we report by sending
headers (uvicorn's ``ProxyHeadersMiddleware`` works the same way; Sentry's does not).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["TrustedProxies", "clean_ip", "parse_forwarded"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = ("127.0.0.0/8", "::1/128")


@lru_cache(maxsize=4096)
def clean_ip(value: str) -> str | None:
    """A bare, normalised IP address from a header entry or peer address, else None.

    Strips ports (``1.2.3.4:80``, ``[::1]:80``), brackets, quotes and IPv6 zone ids, and
    turns IPv4-mapped IPv6 (``::ffff:1.2.3.4``, as dual-stack servers report) into IPv4.
    """
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
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


class TrustedProxies:
    """A set of proxy addresses and networks whose forwarding headers we believe.

    ``TrustedProxies("10.0.0.0/8, 127.0.0.1")``, ``TrustedProxies("*")`` (everyone: only
    when every request comes through your proxy) or ``TrustedProxies()`` (loopback only).
    A peer with no address (a unix socket) can only be a local proxy, so it is trusted.
    """

    def __init__(self, spec: str | Iterable[str] | None = None) -> None:
        if spec is None:
            items: list[str] = list(LOOPBACK)
        elif isinstance(spec, str):
            items = [part.strip() for part in spec.split(",") if part.strip()]
        else:
            items = [str(part).strip() for part in spec if str(part).strip()]
        self.trust_all = "*" in items
        networks: list[IPNetwork] = []
        for item in items:
            if item == "*":
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {item!r} is not an IP address or CIDR network "
                    "(use e.g. '10.0.0.0/8, 127.0.0.1', or '*' to trust every peer)"
                ) from None
        self.networks = tuple(networks)
        self._spec = "*" if self.trust_all else ", ".join(str(n) for n in networks)
        self.is_trusted = lru_cache(maxsize=1024)(self._is_trusted)

    def __repr__(self) -> str:
        return f"TrustedProxies({self._spec!r})"

    def _is_trusted(self, address: str | None) -> bool:
        if self.trust_all or address is None:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_ip(self, peer: str | None, forwarded_for: str | None,
                  forwarded: str | None) -> str | None:
        """The visitor's address: the peer's, unless the peer is a trusted proxy.

        Then walk ``X-Forwarded-For`` (else ``Forwarded: for=``) from the right, skipping
        trusted proxies and garbage, and take the first untrusted address. When every
        entry is trusted, the leftmost is the client.
        """
        peer_ip = clean_ip(peer) if peer else None
        if not self.is_trusted(peer_ip):
            return peer_ip
        if forwarded_for:
            hops = forwarded_for.split(",")
        elif forwarded:
            hops = [element.get("for", "") for element in parse_forwarded(forwarded)]
        else:
            return peer_ip
        leftmost: str | None = None
        for hop in reversed(hops):
            ip = clean_ip(hop)
            if ip is None:
                continue
            if not self.is_trusted(ip):
                return ip
            leftmost = ip
        return leftmost or peer_ip


_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded`` into one dict per element (names lower-cased, quotes removed)."""
    elements: list[dict[str, str]] = []
    current: dict[str, str] = {}
    pos, size = 0, len(value)
    while pos < size:
        match = _FORWARDED_PAIR.match(value, pos)
        if not match:
            # Skip to the next separator: one bad pair must not hide the others.
            nxt = min((i for i in (value.find(";", pos), value.find(",", pos)) if i >= 0),
                      default=size)
            pos = nxt
        else:
            name, raw = match.group(1).lower(), match.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            current.setdefault(name, raw)
            pos = match.end()
        if pos < size:
            if value[pos] == ",":
                elements.append(current)
                current = {}
            pos += 1
    elements.append(current)
    return [element for element in elements if element]
