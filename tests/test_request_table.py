"""Request -> hit: one table of cases, each run through the WSGI and the ASGI middleware
and delivered over real HTTP to the loopback receiver."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pirsch_middleware import Outgoing
from pirsch_middleware._config import split_options
from pirsch_middleware.asgi import PirschMiddleware
from pirsch_middleware.devserver import DevServer

from .conftest import TrackerFactory
from .requests_table import Case, asgi_app, run_asgi, serve

PROXY = "127.0.0.1"  # trusted by default (loopback)
MAX_URL = 8192


NAVIGATE = [(b"sec-fetch-dest", b"document"), (b"sec-fetch-mode", b"navigate")]
FETCH = [(b"sec-fetch-dest", b"empty"), (b"sec-fetch-mode", b"cors")]
CDN = "173.245.48.0/20"  # one of Cloudflare's ranges
CF_EDGE = "173.245.48.5"
CF_IP = "cf-connecting-ip"


def cdn(*hops: tuple[bytes, bytes], **case: Any) -> Case:
    """A case with client_ip_header=CF-Connecting-IP (and what ``case`` adds)."""
    options = {"client_ip_header": "CF-Connecting-IP", **case.pop("options", {})}
    return Case(case.pop("id"), headers=list(hops), options=options, **case)


def group_user_pages(item: Outgoing) -> Outgoing:
    item.url = re.sub(r"/users/\d+", "/users/:id", item.url)
    return item


def without_page_parameter(item: Outgoing) -> Outgoing:
    base, _, query = item.url.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith("page=")]
    item.url = base + ("?" + "&".join(kept) if kept else "")
    return item


def not_from_the_office(item: Outgoing) -> Outgoing | None:
    return None if item.ip in ("203.0.113.7", "203.0.113.8") else item


def titled(item: Outgoing) -> Outgoing:
    item.title, item.tags = "From before_send", {**item.tags, "edited": "yes"}
    return item


def cut_on_a_boundary(pad: int) -> Case:
    """A path of 'é' (%C3%A9, 6 characters each) after ``pad`` letters, too long for a
    URL: the cut falls in each place of an escape as ``pad`` goes from 0 to 5."""
    start = "http://example.com/" + "a" * pad
    return Case(f"URL over 8 KB cut after a whole character (+{pad})",
                path=b"/" + b"a" * pad + b"%C3%A9" * 1400,
                expect={"url": start + "%C3%A9" * ((MAX_URL - len(start)) // 6)})


CASES = [
    # -- URL forms
    Case("plain page", expect={"url": "http://example.com/page", "ip": "203.0.113.7",
                               "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                                             "Gecko/20100101 Firefox/120.0"}),
    Case("query string kept", query=b"a=1&b=x%20y", expect={
        "url": "http://example.com/page?a=1&b=x%20y"}),
    Case("non-default port kept", host=b"example.com:8080",
         expect={"url": "http://example.com:8080/page"}),
    Case("default port dropped", host=b"Example.COM:80", expect={"url": "http://example.com/page"}),
    Case("https", scheme="https", host=b"example.com:443",
         expect={"url": "https://example.com/page"}),
    Case("percent-encoding preserved", path=b"/caf%C3%A9/a%2Fb", expect={
        "url": "http://example.com/caf%C3%A9/a%2Fb"}),
    Case("re-encoded without a raw URI", path=b"/caf%C3%A9/x%20y", raw_uri=False,
         expect={"url": "http://example.com/caf%C3%A9/x%20y"}),
    Case("mounted under a root path", path=b"/shop/cart", root="/shop",
         expect={"url": "http://example.com/shop/cart"}),
    Case("no Host header: server name", host=None, expect={"url": "http://testserver/page"}),
    Case("garbage Host header: server name", host=b"exa mple/com",
         expect={"url": "http://testserver/page"}),
    # h11 (uvicorn) takes request-targets without a leading slash: the host stays the Host
    Case("target without a slash: @host", path=b"@evil.com/x",
         expect={"url": "http://example.com/@evil.com/x"}),
    Case("target without a slash: .host", path=b".evil.com/",
         expect={"url": "http://example.com/.evil.com/"}),
    Case("target without a slash: a word", path=b"abc", expect={"url": "http://example.com/abc"}),
    Case("absolute-form target: its path only", path=b"http://evil.com/x",
         expect={"url": "http://example.com/x"}),
    Case("target without a slash under a root path", path=b"@evil.com/x", root="/app",
         expect={"url": "http://example.com/app/@evil.com/x"}),
    *(cut_on_a_boundary(pad) for pad in range(6)),
    # -- client IP and proxies
    Case("untrusted peer cannot choose its IP", headers=[(b"x-forwarded-for", b"1.2.3.4")],
         expect={"ip": "203.0.113.7"}),
    Case("untrusted peer cannot choose host or scheme",
         headers=[(b"x-forwarded-host", b"evil.example"), (b"x-forwarded-proto", b"https")],
         expect={"url": "http://example.com/page"}),
    Case("trusted proxy: X-Forwarded-For", peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.1")], expect={"ip": "198.51.100.1"}),
    Case("trusted proxy: rightmost untrusted hop wins", peer=PROXY,
         headers=[(b"x-forwarded-for", b"6.6.6.6, 198.51.100.2, 127.0.0.5")],
         expect={"ip": "198.51.100.2"}),
    Case("trusted proxy chain by CIDR", peer="10.1.2.3",
         headers=[(b"x-forwarded-for", b"198.51.100.3, 10.9.9.9")],
         options={"trusted_proxies": "10.0.0.0/8"}, expect={"ip": "198.51.100.3"}),
    Case("untrusted inner proxy is the client", peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.3, 10.9.9.9")], expect={"ip": "10.9.9.9"}),
    Case("trusted proxy: ports stripped, empty entries skipped", peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.4:5555, , ")],
         expect={"ip": "198.51.100.4"}),
    Case("duplicated X-Forwarded-For headers are one list", peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.9"), (b"x-forwarded-for", b"127.0.0.1")],
         expect={"ip": "198.51.100.9"}),
    Case("every hop trusted: leftmost", peer=PROXY,
         headers=[(b"x-forwarded-for", b"127.0.0.9, 127.0.0.8")], expect={"ip": "127.0.0.9"}),
    # a hop nobody can vouch for ends the walk: the proxy that wrote it is the address
    Case("X-Forwarded-For: unknown hop ends the walk", peer=PROXY,
         headers=[(b"x-forwarded-for", b"6.6.6.6, unknown")], expect={"ip": PROXY}),
    Case("Forwarded: for=unknown ends the walk", peer=PROXY,
         headers=[(b"forwarded", b"for=6.6.6.6, for=unknown")], expect={"ip": PROXY}),
    Case("Forwarded: obfuscated for=_hidden ends the walk", peer=PROXY,
         headers=[(b"forwarded", b'for=6.6.6.6, for="_hidden"')], expect={"ip": PROXY}),
    Case("Forwarded: a visitor's open quote does not swallow the proxy's element", peer=PROXY,
         headers=[(b"forwarded", b'for=6.6.6.6;x=", for="[2001:db8::9]:4711"')],
         expect={"ip": "2001:db8::9"}),
    # forwarding headers are read from the right however long: the left is the visitor's
    Case("X-Forwarded-For over 2 KB read from the right", peer=PROXY,
         headers=[(b"x-forwarded-for", b"6.6.6.6, " * 400 + b"198.51.100.10"),
                  (b"forwarded", b"for=6.6.6.7")],
         expect={"ip": "198.51.100.10"}),
    Case("X-Forwarded-For over 2 KB from repeated headers", peer=PROXY,
         headers=[(b"x-forwarded-for", b"6.6.6.6, " * 200 + b"6.6.6.6"),
                  (b"x-forwarded-for", b"6.6.6.6, " * 200 + b"6.6.6.6"),
                  (b"x-forwarded-for", b"198.51.100.11")],
         expect={"ip": "198.51.100.11"}),
    Case("X-Forwarded-For of one entry over 2 KB: no hop to believe", peer=PROXY,
         headers=[(b"x-forwarded-for", b"6.6.6.6" + b"x" * 3000),
                  (b"forwarded", b"for=6.6.6.8")],
         expect={"ip": PROXY}),
    Case("X-Forwarded-For, even empty, is never replaced by Forwarded", peer=PROXY,
         headers=[(b"x-forwarded-for", b" "), (b"forwarded", b"for=6.6.6.9")],
         expect={"ip": PROXY}),
    # trusted_proxies="*": the peer is the one proxy; what it appended is the visitor
    Case("trusted_proxies='*': the rightmost entry", peer="192.0.2.50",
         options={"trusted_proxies": "*"},
         headers=[(b"x-forwarded-for", b"6.6.6.6, 198.51.100.5")],
         expect={"ip": "198.51.100.5"}),
    Case("trusted_proxies='*': the rightmost Forwarded element", peer="192.0.2.50",
         options={"trusted_proxies": "*"},
         headers=[(b"forwarded", b"for=6.6.6.6, for=198.51.100.6")],
         expect={"ip": "198.51.100.6"}),
    Case("trusted_proxies=[]: nobody's headers count", peer=PROXY,
         options={"trusted_proxies": []}, headers=[(b"x-forwarded-for", b"6.6.6.6")],
         expect={"ip": PROXY}),
    # scheme and host: the host only with forwarded_host, and never mixed across headers
    Case("trusted proxy: scheme", peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https")],
         expect={"url": "https://example.com/page"}),
    Case("no Host header, scheme from a proxy: server name without the server's port",
         host=None, peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https")],
         expect={"url": "https://testserver/page"}),
    Case("X-Forwarded-Host not read without forwarded_host", peer=PROXY,
         headers=[(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-host", b"evil.example")],
         expect={"url": "http://example.com/page", "ip": "198.51.100.1"}),
    Case("Forwarded host= not read without forwarded_host", peer=PROXY,
         headers=[(b"forwarded", b"for=198.51.100.1;proto=https;host=evil.example")],
         expect={"url": "https://example.com/page", "ip": "198.51.100.1"}),
    Case("forwarded_host: X-Forwarded-Host names the site", peer=PROXY,
         options={"forwarded_host": True},
         headers=[(b"x-forwarded-proto", b"https"), (b"x-forwarded-host", b"www.example.org")],
         expect={"url": "https://www.example.org/page"}),
    Case("forwarded_host: Forwarded names the site", peer=PROXY,
         options={"forwarded_host": True},
         headers=[(b"forwarded", b'for="[2001:db8::1]:4711";proto=https;host=example.net')],
         expect={"ip": "2001:db8::1", "url": "https://example.net/page"}),
    Case("forwarded_host: the proxy's X-Forwarded-* keep a visitor's Forwarded out",
         peer=PROXY, options={"forwarded_host": True},
         headers=[(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https"),
                  (b"forwarded", b"for=6.6.6.6;proto=http;host=evil.example")],
         expect={"ip": "198.51.100.1", "url": "https://example.com/page"}),
    Case("forwarded_host: Forwarded host of the element the address came from", peer=PROXY,
         options={"forwarded_host": True},
         headers=[(b"forwarded", b"for=6.6.6.6;host=evil.example, for=198.51.100.2;"
                                 b"host=www.example.net, for=127.0.0.3;host=inner")],
         expect={"ip": "198.51.100.2", "url": "http://www.example.net/page"}),
    Case("peer already resolved by the server (uvicorn --proxy-headers)", peer="198.51.100.23",
         options={"forwarded_host": True},
         headers=[(b"x-forwarded-for", b"198.51.100.23"),
                  (b"x-forwarded-host", b"www.example.com")],
         expect={"ip": "198.51.100.23", "url": "http://www.example.com/page"}),
    Case("peer resolved by the server: no host without forwarded_host", peer="198.51.100.23",
         headers=[(b"x-forwarded-for", b"198.51.100.23"),
                  (b"x-forwarded-host", b"www.example.com")],
         expect={"ip": "198.51.100.23", "url": "http://example.com/page"}),
    Case("IPv6 peer", peer="2001:db8::7", expect={"ip": "2001:db8::7"}),
    Case("IPv6 loopback proxy", peer="::1", headers=[(b"x-forwarded-for", b"[2001:db8::8]")],
         expect={"ip": "2001:db8::8"}),
    Case("IPv4-mapped peer", peer="::ffff:203.0.113.5", expect={"ip": "203.0.113.5"}),
    Case("unix socket peer is a local proxy", peer=None,
         headers=[(b"x-forwarded-for", b"198.51.100.6")], expect={"ip": "198.51.100.6"}),
    # -- headers
    Case("referrer header", headers=[(b"referer", b"https://news.example/")],
         expect={"referrer": "https://news.example/"}),
    Case("referrer from ?ref=", query=b"ref=newsletter", expect={"referrer": "newsletter"}),
    Case("referrer from ?utm_source=", query=b"utm_source=mastodon",
         expect={"referrer": "mastodon"}),
    Case("header beats query", query=b"ref=q", headers=[(b"referer", b"https://h.example/")],
         expect={"referrer": "https://h.example/"}),
    Case("accept-language and client hints", headers=[
        (b"accept-language", b"de-DE,de;q=0.9"), (b"sec-ch-ua", b'"Chromium";v="120"'),
        (b"sec-ch-ua-mobile", b"?0"), (b"sec-ch-ua-platform", b'"Linux"'),
        (b"sec-ch-ua-platform-version", b'"6.1"'), (b"sec-ch-width", b"1920"),
        (b"sec-ch-viewport-width", b"1280")],
        expect={"accept_language": "de-DE,de;q=0.9", "sec_ch_ua": '"Chromium";v="120"',
                "sec_ch_ua_mobile": "?0", "sec_ch_ua_platform": '"Linux"',
                "sec_ch_ua_platform_version": '"6.1"', "sec_ch_width": "1920",
                "sec_ch_viewport_width": "1280"}),
    Case("non-UTF-8 user agent decoded leniently", user_agent=b"Mozilla/5.0 (Caf\xe9) Firefox",
         expect={"user_agent": "Mozilla/5.0 (Café) Firefox"}),
    Case("quotes, backslashes and emoji survive the JSON",
         user_agent='Mozilla/5.0 ("Q" \\ \u00e9 \U0001F600)'.encode(),
         expect={"user_agent": 'Mozilla/5.0 ("Q" \\ \u00e9 \U0001F600)'}),
    Case("absurdly long header dropped", headers=[(b"accept-language", b"x" * 5000)],
         expect={"accept_language": None}),
    Case("DNT sent when not respected", headers=[(b"dnt", b"1")],
         options={"respect_dnt": False}, expect={"dnt": "1"}),
    # -- not page views
    Case("POST", method="POST", expect=None),
    Case("HEAD", method="HEAD", expect=None),
    Case("redirect", status=302, expect=None),
    Case("not found", status=404, expect=None),
    Case("server error", status=500, expect=None),
    Case("JSON response", content_type="application/json", expect=None),
    Case("image response", content_type="image/png", expect=None),
    Case("static prefix", path=b"/static/app.html", expect=None),
    Case("asset extension", path=b"/app.css", expect=None),
    Case("favicon", path=b"/favicon.ico", expect=None),
    Case("robots.txt", path=b"/robots.txt", expect=None),
    Case("sitemap", path=b"/sitemap.xml", expect=None),
    Case("well-known", path=b"/.well-known/security.txt", expect=None),
    Case("health", path=b"/health", expect=None),
    Case("healthz", path=b"/healthz", expect=None),
    Case("ready", path=b"/ready", expect=None),
    Case("livez", path=b"/livez", expect=None),
    Case("Purpose: prefetch", headers=[(b"purpose", b"prefetch")], expect=None),
    Case("X-Purpose: preview", headers=[(b"x-purpose", b"preview")], expect=None),
    Case("X-Moz: prefetch", headers=[(b"x-moz", b"prefetch")], expect=None),
    Case("Sec-Purpose: prefetch;prerender", headers=[(b"sec-purpose", b"prefetch;prerender")],
         expect=None),
    Case("DNT: 1", headers=[(b"dnt", b"1")], expect=None),
    Case("Sec-GPC: 1", headers=[(b"sec-gpc", b"1")], expect=None),
    Case("no user agent", user_agent=None, expect=None),
    Case("Googlebot", user_agent=b"Mozilla/5.0 (compatible; Googlebot/2.1)", expect=None),
    Case("curl", user_agent=b"curl/8.5.0", expect=None),
    Case("kube-probe", user_agent=b"kube-probe/1.29", expect=None),
    Case("python-requests", user_agent=b"python-requests/2.31", expect=None),
    Case("exclude prefix", path=b"/admin/users", options={"exclude": ["/admin/"]}, expect=None),
    Case("exclude regex", path=b"/api/v2/items", options={"exclude": [re.compile(r"^/api/")]},
         expect=None),
    Case("exclude regex string", path=b"/u/42/edit", options={"exclude": "re:/edit$"},
         expect=None),
    Case("should_track says no", options={"should_track": lambda pv: pv.path != "/page"},
         expect=None),
    Case("should_track raising means no", options={"should_track": lambda pv: 1 / 0},
         expect=None),
    Case("default excludes off", path=b"/health",
         options={"default_excludes": False}, expect={"url": "http://example.com/health"}),
    Case("any content type", content_type="application/json",
         options={"track_content_types": None}, expect={"url": "http://example.com/page"}),
    # -- browser navigations (Sec-Fetch-Dest / Sec-Fetch-Mode)
    Case("navigation", headers=NAVIGATE, expect={"url": "http://example.com/page"}),
    Case("navigation without a content type", content_type=None, headers=NAVIGATE,
         expect={"url": "http://example.com/page"}),
    Case("navigation with a content type browsers sniff (*/*)", content_type="*/*",
         headers=NAVIGATE, expect={"url": "http://example.com/page"}),
    Case("no content type, no Sec-Fetch: today's rule", content_type=None, expect=None),
    Case("no content type, fetch()", content_type=None, headers=FETCH, expect=None),
    Case("navigation to JSON", content_type="application/json", headers=NAVIGATE,
         expect=None),
    Case("204 to a navigation: the browser stays where it is", status=204, content_type=None,
         headers=NAVIGATE, expect=None),
    Case("navigation to a download (application/octet-stream)",
         content_type="application/octet-stream", headers=NAVIGATE, expect=None),
    Case("304 to a navigation", status=304, content_type=None, headers=NAVIGATE,
         expect={"url": "http://example.com/page"}),
    Case("304 with an HTML content type to a navigation", status=304, headers=NAVIGATE,
         expect={"url": "http://example.com/page"}),
    Case("304 to a navigation, any content type tracked", status=304,
         content_type="application/json", headers=NAVIGATE,
         options={"track_content_types": None}, expect={"url": "http://example.com/page"}),
    Case("304 without Sec-Fetch", status=304, expect=None),
    Case("304 to fetch()", status=304, headers=FETCH, expect=None),
    Case("304 of JSON to a navigation", status=304, content_type="application/json",
         headers=NAVIGATE, expect=None),
    Case("redirect to a navigation", status=302, headers=NAVIGATE, expect=None),
    Case("not found to a navigation", status=404, headers=NAVIGATE, expect=None),
    Case("HTML to fetch()/XHR (htmx)", headers=FETCH, expect=None),
    Case("HTML to a script", headers=[(b"sec-fetch-dest", b"script"),
                                      (b"sec-fetch-mode", b"no-cors")], expect=None),
    Case("HTML to a style sheet", headers=[(b"sec-fetch-dest", b"style"),
                                           (b"sec-fetch-mode", b"no-cors")], expect=None),
    Case("image to an <img>, any content type tracked", content_type="image/png",
         headers=[(b"sec-fetch-dest", b"image"), (b"sec-fetch-mode", b"no-cors")],
         options={"track_content_types": None}, expect=None),
    Case("navigation in an iframe", headers=[(b"sec-fetch-dest", b"iframe"),
                                             (b"sec-fetch-mode", b"navigate")], expect=None),
    Case("navigation in an iframe, track_frames", options={"track_frames": True},
         headers=[(b"sec-fetch-dest", b"iframe"), (b"sec-fetch-mode", b"navigate")],
         expect={"url": "http://example.com/page"}),
    Case("304 to an iframe navigation, track_frames", status=304, content_type=None,
         options={"track_frames": True},
         headers=[(b"sec-fetch-dest", b"iframe"), (b"sec-fetch-mode", b"navigate")],
         expect={"url": "http://example.com/page"}),
    Case("document fetched without navigating", headers=[
        (b"sec-fetch-dest", b"document"), (b"sec-fetch-mode", b"no-cors")], expect=None),
    Case("Sec-Fetch-Mode alone (Chrome 76-79): navigate", status=304,
         headers=[(b"sec-fetch-mode", b"navigate")], expect={"url": "http://example.com/page"}),
    Case("Sec-Fetch-Mode alone (Chrome 76-79): cors", headers=[(b"sec-fetch-mode", b"cors")],
         expect=None),
    Case("should_track sees a 304 and says no", status=304, headers=NAVIGATE,
         options={"should_track": lambda pv: pv.status != 304}, expect=None),
    Case("a prefetch navigation", headers=[*NAVIGATE, (b"sec-purpose", b"prefetch")],
         expect=None),
    # -- query scrubbing: values of secret-bearing parameters replaced
    Case("token scrubbed from the URL", query=b"token=abc123&page=2", expect={
        "url": "http://example.com/page?token=REDACTED&page=2"}),
    Case("each default parameter, in any case, each time", query=(
        b"Code=1&STATE=2&password=3&api_key=4&key=5&sig=6&sessionid=7&code=8&q=keep"),
        expect={"url": "http://example.com/page?Code=REDACTED&STATE=REDACTED&password="
                       "REDACTED&api_key=REDACTED&key=REDACTED&sig=REDACTED&sessionid="
                       "REDACTED&code=REDACTED&q=keep"}),
    Case("an encoded parameter name is scrubbed too", query=b"api%5Fkey=s3cr3t&x=1",
         expect={"url": "http://example.com/page?api%5Fkey=REDACTED&x=1"}),
    Case("an empty value stays empty", query=b"token=&x=1",
         expect={"url": "http://example.com/page?token=&x=1"}),
    Case("referrer and UTM parameters are never scrubbed",
         query=b"ref=mail&utm_source=news&utm_campaign=spring&source=x",
         expect={"url": "http://example.com/page?ref=mail&utm_source=news&utm_campaign="
                        "spring&source=x", "referrer": "mail"}),
    Case("the Referer header is scrubbed",
         headers=[(b"referer", b"https://example.com/reset?token=abc&step=2")],
         expect={"referrer": "https://example.com/reset?token=REDACTED&step=2"}),
    Case("scrub_query sets the list", query=b"token=abc&email=a%40b.example",
         options={"scrub_query": ["email"]},
         expect={"url": "http://example.com/page?token=abc&email=REDACTED"}),
    Case("scrub_query=[] scrubs nothing", query=b"token=abc", options={"scrub_query": []},
         expect={"url": "http://example.com/page?token=abc"}),
    # -- client_ip_header: only when the request came through trusted proxies only
    cdn((b"cf-connecting-ip", b"198.51.100.20"), id="client_ip_header from a trusted peer",
        peer=PROXY, expect={"ip": "198.51.100.20"}),
    cdn((b"cf-connecting-ip", b"6.6.6.6"), id="client_ip_header from an untrusted peer: "
        "the peer", expect={"ip": "203.0.113.7"}),
    Case("CF-Connecting-IP is not read without client_ip_header", peer=PROXY,
         headers=[(b"cf-connecting-ip", b"198.51.100.20")], expect={"ip": PROXY}),
    cdn((b"cf-connecting-ip", b"198.51.100.21"), id="the CDN connects to the app",
        peer=CF_EDGE, options={"trusted_proxies": CDN}, expect={"ip": "198.51.100.21"}),
    cdn((b"x-forwarded-for", CF_EDGE.encode()), (b"cf-connecting-ip", b"198.51.100.22"),
        id="CDN, then nginx overwriting X-Forwarded-For", peer=PROXY,
        options={"trusted_proxies": f"127.0.0.1, {CDN}"}, expect={"ip": "198.51.100.22"}),
    cdn((b"x-forwarded-for", b"198.51.100.23, " + CF_EDGE.encode()),
        (b"cf-connecting-ip", b"198.51.100.23"), id="CDN appending, then nginx appending",
        peer=PROXY, options={"trusted_proxies": f"127.0.0.1, {CDN}"},
        expect={"ip": "198.51.100.23"}),
    cdn((b"x-forwarded-for", b"203.0.113.50"), (b"cf-connecting-ip", b"6.6.6.6"),
        id="a visitor past the CDN, through nginx, cannot forge it", peer=PROXY,
        options={"trusted_proxies": f"127.0.0.1, {CDN}"}, expect={"ip": "203.0.113.50"}),
    cdn((b"x-forwarded-for", CF_EDGE.encode()), (b"cf-connecting-ip", b"198.51.100.24"),
        id="the CDN's ranges not trusted: the CDN's address", peer=PROXY,
        expect={"ip": CF_EDGE}),
    cdn((b"forwarded", f"for={CF_EDGE}".encode()), (b"cf-connecting-ip", b"198.51.100.25"),
        id="CDN, then a proxy writing Forwarded", peer=PROXY,
        options={"trusted_proxies": f"127.0.0.1, {CDN}"}, expect={"ip": "198.51.100.25"}),
    cdn((b"x-forwarded-for", b"unknown"), (b"cf-connecting-ip", b"6.6.6.6"),
        id="an unknown hop: not through proxies only", peer=PROXY, expect={"ip": PROXY}),
    cdn((b"cf-connecting-ip", b"not an address"), id="a value that is no address: ignored",
        peer=PROXY, expect={"ip": PROXY}),
    cdn((b"cf-connecting-ip", b"6.6.6.6"), (b"cf-connecting-ip", b"198.51.100.26"),
        id="a repeated header: the rightmost", peer=PROXY, expect={"ip": "198.51.100.26"}),
    cdn((b"cf-connecting-ip", b"2001:db8::26"), id="an IPv6 address", peer=PROXY,
        expect={"ip": "2001:db8::26"}),
    cdn((b"true-client-ip", b"198.51.100.27"), id="another header name (True-Client-IP)",
        peer=PROXY, options={"client_ip_header": "True-Client-IP"},
        expect={"ip": "198.51.100.27"}),
    cdn((b"cf-connecting-ip", b"198.51.100.28"), id="client_ip_header gives an IP where "
        "the peer gives none (unix socket)", peer=None, expect={"ip": "198.51.100.28"}),
    # -- before_send: the user's last word
    Case("before_send groups /users/123 into /users/:id", path=b"/users/123",
         options={"before_send": group_user_pages},
         expect={"url": "http://example.com/users/:id"}),
    Case("before_send strips a query parameter", query=b"page=2&sort=new",
         options={"before_send": without_page_parameter},
         expect={"url": "http://example.com/page?sort=new"}),
    Case("before_send drops hits from the office", options={"before_send": not_from_the_office},
         expect=None),
    Case("before_send sees the scrubbed URL", query=b"token=abc",
         options={"before_send": lambda item: None if "abc" in item.url else item},
         expect={"url": "http://example.com/page?token=REDACTED"}),
    Case("before_send sets title and tags", options={"before_send": titled},
         expect={"title": "From before_send", "tags": {"edited": "yes"}}),
    Case("before_send raising: sent unchanged", options={"before_send": lambda item: 1 / 0},
         expect={"url": "http://example.com/page", "ip": "203.0.113.7"}),
    Case("before_send returning something else: sent unchanged",
         options={"before_send": lambda item: True}, expect={"url": "http://example.com/page"}),
]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_request_becomes_hit(case: Case, kind: str, make_tracker: TrackerFactory,
                             receiver: DevServer) -> None:
    tracker_options, rule_options = split_options(case.options)
    tracker = make_tracker(**tracker_options)
    serve(kind, case, {"tracker": tracker, **rule_options})
    assert tracker.flush(5)
    if case.expect is None:
        assert receiver.hits == []
        return
    assert len(receiver.hits) == 1, receiver.requests
    hit = receiver.hits[0]
    for name, value in case.expect.items():
        assert hit.get(name) == value, (name, hit)
    assert receiver.events == []


def test_asgi_root_path_prefix_stripped_by_proxy(make_tracker: TrackerFactory,
                                                 receiver: DevServer) -> None:
    """Behind a proxy that strips /app, uvicorn --root-path /app puts the prefix in
    path and root_path but not in raw_path (what reached the server)."""
    case = Case("stripped", path=b"/page", root="/app")
    scope = case.scope()
    scope["path"] = "/app/page"
    tracker = make_tracker()
    run_asgi(PirschMiddleware(asgi_app(case), tracker=tracker), scope)
    assert tracker.flush(5)
    assert receiver.hits[0]["url"] == "http://example.com/app/page"
