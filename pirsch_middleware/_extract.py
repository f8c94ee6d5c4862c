"""One extraction core: a WSGI environ or an ASGI scope -> ``RequestData``.

On the request path the middlewares only ``capture`` the raw values this module needs,
as a tuple; the decoding, URL building and proxy-header reading run later, in the
flusher thread. Every adapter shares it, so a fix here is made once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from ._proxies import TrustedProxies, clean_ip, rightmost

__all__ = ["CLIENT_HINTS", "Captured", "RequestData", "capture", "capturer", "header_run",
           "header_value", "is_scope", "peer_address", "read_request", "scope_headers",
           "url_of"]

MAX_HEADER = 2048  # longer values are dropped: no browser sends them, garbage does
# ...except forwarding headers, of which the right end is kept: what the proxies appended.
MAX_URL = 8192
CLIENT_HINTS = ("sec_ch_ua", "sec_ch_ua_mobile", "sec_ch_ua_platform",
                "sec_ch_ua_platform_version", "sec_ch_width", "sec_ch_viewport_width")
REFERRER_PARAMS = ("ref", "referer", "referrer", "source", "utm_source")
# The headers we read, by their lower-case, dash-separated names, in three runs: what the
# browser says of itself (the same for all of a visitor's requests), who forwarded the
# request, and where it went (with "referer", from where).
BROWSER_HEADERS = ("user-agent", "accept-language", "dnt", "sec-gpc",
                   "purpose", "x-purpose", "x-moz", "sec-purpose",  # prefetches (_rules)
                   "sec-fetch-dest", "sec-fetch-mode",  # browser navigations (_rules)
                   *(hint.replace("_", "-") for hint in CLIENT_HINTS))
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-forwarded-proto",
                      "x-forwarded-host")
WANTED = frozenset({*BROWSER_HEADERS, *FORWARDING_HEADERS, "host", "referer"})
LIST_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                          "forwarded"})
# Stands for the left part of a forwarding header too long to keep: a hop that nobody can
# vouch for, which ends the walk over the hops (RFC 7239 spells it "unknown").
CUT_HOPS = "unknown, "
# Characters that may stand unencoded in a path or query as sent on the wire; anything
# else (spaces, non-ASCII, quotes...) gets percent-encoded. '%' is kept: already encoded.
_WIRE_SAFE = "!$&'()*+,-./:;=?@[]_~%"
_PATH_SAFE = "!$&'()*+,-./:;=@_~"  # for decoded paths: '%' here is a literal percent sign
_HOST = re.compile(r"^(?:[a-z0-9_~!$&'()*+,;=.-]|%[0-9a-f]{2})+(?::\d{1,5})?$"
                   r"|^\[[0-9a-f:.]+\](?::\d{1,5})?$")
DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(slots=True)  # not frozen: one is built per item, and frozen ones cost 3x
class RequestData:
    """Everything a hit, event or keep-alive needs from the request that caused it."""

    url: str
    ip: str | None
    headers: Mapping[str, str]  # WANTED headers only, decoded; lower-case dashed names

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def referrer(self) -> str:
        referrer = self.header("referer")
        if referrer:
            return referrer
        query = self.url.partition("?")[2]
        # Parsed only when one of REFERRER_PARAMS may be in it (a name may be encoded).
        if query and ("ref" in query or "source" in query or "%" in query):
            params = dict(parse_qsl(query))
            for name in REFERRER_PARAMS:
                if params.get(name):
                    return params[name][:MAX_HEADER]
        return ""


def _text(value: str | bytes, name: str) -> str | None:
    """Decode leniently (UTF-8, else Latin-1); drop absurdly long values, except of the
    forwarding headers, which keep their right end."""
    cut = len(value) > MAX_HEADER
    if cut:
        if name not in LIST_HEADERS:
            return None
        value = value[-MAX_HEADER:]
    if isinstance(value, str):
        if value.isascii():  # nearly always: no re-decoding needed
            text = value.strip()
            return _right_end(text, cut) if cut else text
        raw = value.encode("latin-1", "replace")
    else:
        raw = value
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = raw.decode("latin-1").strip()
    return _right_end(text, cut) if cut else text


def _right_end(text: str, cut: bool = False) -> str:
    """A forwarding header with no more than its last MAX_HEADER characters (or ``text``
    already cut there): the entries the proxies appended are on the right, while the left
    is the visitor's and may be any length. The entry cut in two goes, and CUT_HOPS
    stands for what is gone."""
    if not cut:
        if len(text) <= MAX_HEADER:
            return text
        text = text[-MAX_HEADER:]
    return CUT_HOPS + text.partition(",")[2].strip()


def _add(headers: dict[str, str], name: str, value: str | bytes) -> None:
    text = _text(value, name)
    if text is None:
        return
    if name in headers:
        if name in LIST_HEADERS:  # RFC 9110: repeated list headers join with commas
            headers[name] = _right_end(headers[name] + ", " + text)
        return  # a repeated single-value header: the first one wins
    headers[name] = text


# What the request path keeps of a request: the raw values read_request needs, in a tuple.
# Not a copy of the environ or scope: that would keep the server's per-request objects
# (input streams, sockets, callbacks) alive until the flusher has run, and the garbage
# collector would walk all of them again and again (~15 µs per hit under gunicorn).
# A tuple of strings is not even tracked by the collector once it has seen it.
Captured = tuple[Any, ...]
# WSGI: the values read, by environ key (looked up directly instead of scanning the
# environ), in runs that the flusher's caches (``_memo``) take as they are: the browser's
# headers; the peer and the forwarding headers; the Host header and the CGI variables of
# the URL; the referrer.
def _environ_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


_URL_VARIABLES = ("wsgi.url_scheme", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME",
                  "PATH_INFO", "QUERY_STRING", "RAW_URI", "REQUEST_URI")
ENVIRON_FIELDS = (*map(_environ_key, BROWSER_HEADERS), "REMOTE_ADDR",
                  *map(_environ_key, FORWARDING_HEADERS), _environ_key("host"),
                  *_URL_VARIABLES, _environ_key("referer"))
BROWSER_RUN = slice(0, len(BROWSER_HEADERS))
SENDER_RUN = slice(BROWSER_RUN.stop, BROWSER_RUN.stop + 1 + len(FORWARDING_HEADERS))
REMOTE_ADDR_AT = SENDER_RUN.start
HOST_AT = SENDER_RUN.stop
URL_RUN = slice(HOST_AT + 1, HOST_AT + 1 + len(_URL_VARIABLES))
REFERER_AT = URL_RUN.stop
SCRIPT_NAME_AT = ENVIRON_FIELDS.index("SCRIPT_NAME")
PATH_INFO_AT = ENVIRON_FIELDS.index("PATH_INFO")
# (position in what was captured, header name) of every header.
_ENVIRON_HEADERS = tuple((at, key[5:].lower().replace("_", "-"))
                         for at, key in enumerate(ENVIRON_FIELDS) if key.startswith("HTTP_"))
# ASGI: the headers as they are (all of them: the list is the server's), then the rest,
# the client first: what follows it is the URL's.
SCOPE_FIELDS = ("headers", "client", "scheme", "server", "root_path", "path", "raw_path",
                "query_string")
SCOPE_URL_RUN = slice(2, len(SCOPE_FIELDS))


SCOPE_SIZE = len(SCOPE_FIELDS)


def is_scope(captured: Captured) -> bool:
    """Was this captured of an ASGI scope (or of a WSGI environ, which keeps more)?"""
    return len(captured) == SCOPE_SIZE

# ASGI header names are lower-case bytes (the spec says so; servers comply).
_SCOPE_NAMES = {name.encode("latin-1"): name for name in WANTED}


def capture(is_asgi: bool, request: Mapping[str, Any]) -> Captured:
    """The raw values of a WSGI environ or an ASGI scope that ``read_request`` reads."""
    get = request.get
    if is_asgi:
        headers = get("headers")
        if headers.__class__ is list:  # the server's own list: a tuple of it leaves the GC
            headers = tuple(headers)  # alone, and later changes to the list do not show
        # SCOPE_FIELDS, spelled out: faster than unpacking a map into the tuple
        return (headers, get("client"), get("scheme"), get("server"), get("root_path"),
                get("path"), get("raw_path"), get("query_string"))
    # ENVIRON_FIELDS, spelled out: a fifth faster than a map of get over them, the largest
    # part of the WSGI request path (tests/test_read_request.py checks that they agree).
    return (get("HTTP_USER_AGENT"), get("HTTP_ACCEPT_LANGUAGE"), get("HTTP_DNT"),
            get("HTTP_SEC_GPC"), get("HTTP_PURPOSE"), get("HTTP_X_PURPOSE"),
            get("HTTP_X_MOZ"), get("HTTP_SEC_PURPOSE"), get("HTTP_SEC_FETCH_DEST"),
            get("HTTP_SEC_FETCH_MODE"), get("HTTP_SEC_CH_UA"), get("HTTP_SEC_CH_UA_MOBILE"),
            get("HTTP_SEC_CH_UA_PLATFORM"), get("HTTP_SEC_CH_UA_PLATFORM_VERSION"),
            get("HTTP_SEC_CH_WIDTH"), get("HTTP_SEC_CH_VIEWPORT_WIDTH"),  # BROWSER_RUN
            get("REMOTE_ADDR"), get("HTTP_X_FORWARDED_FOR"), get("HTTP_FORWARDED"),
            get("HTTP_X_FORWARDED_PROTO"), get("HTTP_X_FORWARDED_HOST"),  # SENDER_RUN
            get("HTTP_HOST"),  # HOST_AT
            get("wsgi.url_scheme"), get("SERVER_NAME"), get("SERVER_PORT"),
            get("SCRIPT_NAME"), get("PATH_INFO"), get("QUERY_STRING"), get("RAW_URI"),
            get("REQUEST_URI"),  # URL_RUN
            get("HTTP_REFERER"))  # REFERER_AT


Capture = Callable[[bool, Mapping[str, Any]], Captured]


def capturer(header: str | None = None) -> Capture:
    """``capture``, or with a ``header`` (a lower-case, dash-separated name, e.g.
    ``cf-connecting-ip``) that a WSGI request keeps too, after the rest (``header_value``
    reads it). An ASGI request keeps all its headers anyway."""
    if header is None:
        return capture
    key = _environ_key(header)

    def capture_with_header(is_asgi: bool, request: Mapping[str, Any]) -> Captured:
        if is_asgi:
            return capture(True, request)
        return (*capture(False, request), request.get(key))

    return capture_with_header


def header_value(is_asgi: bool, captured: Captured, name: str) -> str:
    """The value of the header ``name`` (as given to ``capturer``) in what was captured;
    repeated headers joined with commas, as WSGI servers join them. "" when absent, or
    captured without it."""
    if is_asgi:
        wanted = name.encode("latin-1")
        values = []
        for item in captured[0] or ():
            try:
                raw_name, value = item
                if bytes(raw_name).lower() == wanted:
                    values.append(bytes(value).decode("latin-1").strip())
            except (TypeError, ValueError):
                continue
        return ", ".join(values)
    value = captured[len(ENVIRON_FIELDS)] if len(captured) > len(ENVIRON_FIELDS) else None
    return value.strip() if isinstance(value, str) else ""


def peer_address(is_asgi: bool, captured: Captured) -> str | None:
    """The address the request came from (the peer), as the server reported it."""
    if is_asgi:
        client = captured[1]
        return str(client[0]) if client else None
    return captured[REMOTE_ADDR_AT] or None


def _environ_headers(captured: Captured,
                     fields: tuple[tuple[int, str], ...] = _ENVIRON_HEADERS,
                     ) -> dict[str, str]:
    """The headers among what ``capture`` kept of an environ (``fields``: where)."""
    headers: dict[str, str] = {}
    for at, name in fields:
        value = captured[at]
        if not value:
            continue
        if value.__class__ is str and len(value) <= MAX_HEADER and value.isascii():
            headers[name] = value.strip()  # nearly always: the short way
        elif isinstance(value, str):
            _add(headers, name, value)
    return headers


def header_run(is_asgi: bool, names: tuple[str, ...], values: tuple[Any, ...],
               ) -> dict[str, str]:
    """The headers ``names`` whose raw values (an environ's, or a scope's: ``None`` when
    absent) are ``values``, read as ``read_request`` reads them."""
    if is_asgi:
        return scope_headers([(name.encode("latin-1"), value)
                               for name, value in zip(names, values, strict=True)
                               if value is not None])
    return _environ_headers(values, tuple(enumerate(names)))


def scope_headers(raw_headers: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    names = _SCOPE_NAMES
    for item in raw_headers or ():
        try:
            raw_name, value = item
            name = names.get(raw_name)
            if name is None:
                if raw_name.__class__ is bytes and raw_name.islower():
                    continue  # the usual case: a header we do not read
                if not isinstance(raw_name, (bytes, bytearray)):
                    continue
                name = names.get(bytes(raw_name).lower())
                if name is None:
                    continue
        except (TypeError, ValueError):
            continue
        if value.__class__ is bytes and len(value) <= MAX_HEADER and value.isascii() \
                and name not in headers:
            headers[name] = value.decode("ascii").strip()  # nearly always: the short way
        elif isinstance(value, (bytes, bytearray)):
            _add(headers, name, bytes(value))
    return headers


_PLAIN = re.compile(rb"[A-Za-z0-9!$&'()*+,\-./:;=?@\[\]_~%]*")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9!$&'()*+,\-./:;=@_~]+")  # the same, encoded or not
# A request target whose path and query read the same encoded or not (no '%' in the path):
# then it is the URL's path and query as they are.
_PLAIN_TARGET = re.compile(r"/[A-Za-z0-9!$&'()*+,\-./:;=@_~]*"
                           r"(?:\?[A-Za-z0-9!$&'()*+,\-./:;=?@\[\]_~%]*)?")


def _wire(raw: bytes) -> str:
    if _PLAIN.fullmatch(raw):  # nothing to encode: skip urllib's per-byte work
        return raw.decode("ascii")
    return quote(raw, safe=_WIRE_SAFE)


def _environ_path(script_name: Any, path_info: Any, raw_uri: Any) -> str:
    """The path as sent: prefer the server's raw URI when it agrees with SCRIPT_NAME +
    PATH_INFO (it keeps encodings such as %2F that PATH_INFO has lost); otherwise
    re-encode PATH_INFO, which PEP 3333 gives as decoded bytes in a Latin-1 string."""
    path = str(path_info or "")
    if path and path[0] != "/":  # PEP 3333: empty or from '/'; anything else is not a path
        path = _origin_form(path)
    decoded = str(script_name or "") + path
    if decoded and _PLAIN_PATH.fullmatch(decoded) and (
            not isinstance(raw_uri, str) or raw_uri.partition("?")[0] == decoded):
        return decoded  # nearly always: the path as sent, with nothing to encode
    try:
        decoded_bytes = decoded.encode("latin-1")
    except UnicodeEncodeError:  # a server that decoded as UTF-8 against PEP 3333
        decoded_bytes = decoded.encode("utf-8")
    if isinstance(raw_uri, str) and raw_uri:
        raw = raw_uri.partition("?")[0].partition("#")[0]
        if not raw.startswith("/") and "://" in raw:  # absolute-form request target
            raw = "/" + raw.partition("://")[2].partition("/")[2]
        raw_bytes = raw.encode("latin-1", "replace")
        if unquote_to_bytes(raw_bytes) == decoded_bytes:
            return _wire(raw_bytes)
    return quote(decoded_bytes, safe=_PATH_SAFE) or "/"


def _scope_path(root_path: Any, path: Any, raw_path: Any) -> str:
    root = str(root_path or "")
    if isinstance(raw_path, (bytes, bytearray)) and raw_path:
        wire = _wire(bytes(raw_path).partition(b"?")[0])
        if not wire.startswith("/"):
            wire = _origin_form(wire)
        # raw_path is what reached the server; a prefix-stripping proxy's root_path is not
        # in it, while the ASGI spec puts root_path in path.
        if root and not unquote_to_bytes(wire).startswith(_utf8(root)):
            wire = quote(_utf8(root), safe=_PATH_SAFE) + wire
        return wire
    text = str(path or "/")
    if not text.startswith("/"):
        text = _origin_form(text)
    if root and not text.startswith(root):
        text = root + text
    return quote(_utf8(text), safe=_PATH_SAFE)


def _utf8(text: str) -> bytes:
    """UTF-8, also of text holding lone surrogates (a server that decoded bytes with
    surrogateescape, or broken input): never an exception, so the hit is still sent."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape")  # the bytes they stood for
        except UnicodeEncodeError:
            return re.sub("[\ud800-\udfff]", "\ufffd", text).encode("utf-8")


@lru_cache(maxsize=1024)  # a site sees few host names
def _host(value: str, scheme: str) -> str | None:
    host = value.strip().lower()
    if not host or not _HOST.match(host):
        return None
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if port and port == DEFAULT_PORTS.get(scheme):
        return name
    return host


def read_request(is_asgi: bool, captured: Captured, proxies: TrustedProxies,
                 forwarded_host: bool = False) -> RequestData:
    """Read what ``capture`` kept of a WSGI environ (``is_asgi=False``) or an ASGI scope.

    ``forwarded_host``: the trusted proxies set ``X-Forwarded-Host`` (or ``Forwarded:
    host=``), so it names the site; otherwise the visitor could choose it (nginx passes
    both through), and the ``Host`` header does.
    """
    if is_asgi:
        headers = scope_headers(captured[0])
        client = captured[1]
        peer = str(client[0]) if client else None
        fields = captured[SCOPE_URL_RUN]
    else:
        headers = _environ_headers(captured)
        peer = captured[REMOTE_ADDR_AT] or None
        fields = captured[URL_RUN]
    get = headers.get
    said = proxies.resolve(peer, get("x-forwarded-for"), get("forwarded"),
                           get("x-forwarded-proto"), get("x-forwarded-host"))
    host = get("host", "")
    if forwarded_host:
        if said.host:
            host = said.host
        elif "x-forwarded-host" in headers and _resolved_by_server(proxies, peer, headers):
            host = rightmost(headers["x-forwarded-host"])
    return RequestData(url_of(is_asgi, fields, host, said.proto), said.ip, headers)


def url_of(is_asgi: bool, fields: tuple[Any, ...], host: str, proto: str) -> str:
    """The URL of a request: its own fields (``SCOPE_URL_RUN`` of what was captured of a
    scope, or ``URL_RUN`` of an environ's), the host it was asked for, and the scheme a
    trusted proxy said it was asked with (``proto``, "" when none did)."""
    if is_asgi:
        scheme, listen, root_path, scope_path, raw_path, query_raw = fields
        path = _scope_path(root_path, scope_path, raw_path)
        query = _wire(bytes(query_raw)) if query_raw \
            and isinstance(query_raw, (bytes, bytearray)) else ""
    else:
        (scheme, server_name, server_port, script_name, path_info, query_string, raw_uri,
         request_uri) = fields
        listen = (server_name, server_port)
        target = raw_uri or request_uri
        path = query = ""
        try:  # nearly always: the server's raw target agrees with the CGI variables
            if path_info[0] == "/" and _PLAIN_TARGET.fullmatch(target):
                path, _, query = target.partition("?")
                if path != script_name + path_info or query != query_string:
                    path = ""
        except (TypeError, IndexError):  # missing or odd values: the long way
            path = ""
        if not path:
            path = _environ_path(script_name, path_info, target)
            query = _wire(str(query_string).encode("latin-1", "replace")) \
                if query_string else ""
    scheme = str(scheme or "http")
    proxied_scheme = proto in DEFAULT_PORTS
    if proxied_scheme:
        scheme = proto
    scheme = scheme.lower() if scheme.lower() in DEFAULT_PORTS else "http"
    netloc = _host(host, scheme) or _host(_server_host(listen, not proxied_scheme), scheme) \
        or "localhost"
    if not path.startswith("/"):
        path = _origin_form(path)
    url = f"{scheme}://{netloc}{path}"
    if query and len(url) + len(query) < MAX_URL:
        url += "?" + query
    if len(url) > MAX_URL:
        url = _cut_url(url)
    return url


def _origin_form(path: str) -> str:
    """A path that does not start with '/' (h11 takes ``GET @evil.com/x`` or ``GET abc``,
    and uvicorn passes it on) would change the host of the URL it is joined to: such a path
    gets a '/'. An absolute-form target (``http://host/x``) keeps its path only: the hit's
    host is always the request's."""
    scheme, sep, rest = path.partition("://")
    if sep and scheme.isalpha():
        return "/" + rest.partition("/")[2]
    return "/" + path


_HEX = frozenset("0123456789abcdefABCDEF")


def _cut_url(url: str) -> str:
    """``url`` cut to MAX_URL characters on a boundary: neither a percent-escape nor the
    UTF-8 sequence of escapes for one character is left incomplete."""
    if len(url) <= MAX_URL:
        return url
    cut = url[:MAX_URL]
    percent = cut.find("%", MAX_URL - 2)
    if percent >= 0:
        cut = cut[:percent]
    # Back over the trailing escapes to the lead byte of the last character.
    end = len(cut)
    start = end
    while start >= 3 and cut[start - 3] == "%" and cut[start - 2] in _HEX \
            and cut[start - 1] in _HEX and end - start < 12:
        byte = int(cut[start - 2:start], 16)
        start -= 3
        if byte < 0x80:  # ASCII: complete
            return cut
        if byte >= 0xC0:  # a lead byte: how many bytes its character needs
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return cut if (end - start) // 3 >= needed else cut[:start]
    return cut


def _server_host(listen: Any, with_port: bool = True) -> str:
    """host[:port] the server listens on (the scope's ``server``, or the environ's
    SERVER_NAME and SERVER_PORT): for a request without a usable Host header. Formatted
    only then. Without the port when a proxy gave the scheme: the port is the server's,
    behind the proxy, not the one the visitor used."""
    if not listen:
        return ""
    name, port = listen[0], listen[1]
    if not with_port:
        return str(name or "")
    return f"{name or ''}:{port}".strip(":") if port not in (None, "") else str(name or "")


def _resolved_by_server(proxies: TrustedProxies, peer: str | None,
                        headers: Mapping[str, str]) -> bool:
    """uvicorn's --proxy-headers (on by default) and Werkzeug's ProxyFix replace the peer
    with the address they took from X-Forwarded-For (and the scheme with X-Forwarded-Proto),
    so the proxy's X-Forwarded-Host would seem to come from the visitor. An untrusted peer
    listed in X-Forwarded-For came through a proxy the server trusts: then, with
    ``forwarded_host``, X-Forwarded-Host names the site (the scheme stays the server's, and
    nothing is taken from ``Forwarded``, which these servers do not read). A visitor that
    reaches the server directly could list its own address too, but could then only name
    the host of its own hits, as it can with the Host header anyway; the IP is never taken
    from such a peer's headers."""
    forwarded_for = headers.get("x-forwarded-for")
    peer_ip = clean_ip(peer) if peer else None
    if not peer_ip or not forwarded_for or proxies.trusts_peer(peer_ip):
        return False
    return any(clean_ip(hop) == peer_ip for hop in forwarded_for.split(","))

