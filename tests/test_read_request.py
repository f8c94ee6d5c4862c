"""Reading a queued WSGI environ: the server's raw request target is taken as it is only
when it agrees with the CGI variables; otherwise the URL is rebuilt from them."""

from __future__ import annotations

from typing import Any

import pytest

from pirsch_middleware._extract import ENVIRON_FIELDS, SCOPE_FIELDS, capture, read_request
from pirsch_middleware._proxies import TrustedProxies


def environ(**values: Any) -> dict[str, Any]:
    env: dict[str, Any] = {"REQUEST_METHOD": "GET", "wsgi.url_scheme": "http",
                           "SERVER_NAME": "example.com", "SERVER_PORT": "80",
                           "HTTP_HOST": "example.com", "REMOTE_ADDR": "203.0.113.7",
                           "SCRIPT_NAME": "", "PATH_INFO": "/a", "QUERY_STRING": "",
                           "RAW_URI": "/a"}
    env.update(values)
    return {key: value for key, value in env.items() if value is not None}


@pytest.mark.parametrize(("values", "url"), [
    ({}, "http://example.com/a"),
    ({"PATH_INFO": "/a/b", "QUERY_STRING": "x=1&y=2", "RAW_URI": "/a/b?x=1&y=2"},
     "http://example.com/a/b?x=1&y=2"),
    ({"SCRIPT_NAME": "/app", "RAW_URI": "/app/a"}, "http://example.com/app/a"),
    # the raw target keeps an encoding that PATH_INFO has lost
    ({"PATH_INFO": "/a/b", "RAW_URI": "/a%2Fb"}, "http://example.com/a%2Fb"),
    ({"PATH_INFO": "/caf\xc3\xa9", "RAW_URI": "/caf%C3%A9"}, "http://example.com/caf%C3%A9"),
    # ... and is not taken when it disagrees with the CGI variables
    ({"PATH_INFO": "/rewritten", "RAW_URI": "/original"}, "http://example.com/rewritten"),
    ({"QUERY_STRING": "x=2", "RAW_URI": "/a?x=1"}, "http://example.com/a?x=2"),
    ({"QUERY_STRING": None, "RAW_URI": "/a?x=1"}, "http://example.com/a"),
    ({"PATH_INFO": "a", "SCRIPT_NAME": "/x", "RAW_URI": "/xa"}, "http://example.com/x/a"),
    ({"PATH_INFO": "", "SCRIPT_NAME": "/app", "RAW_URI": "/app"}, "http://example.com/app"),
    ({"RAW_URI": "/a#frag"}, "http://example.com/a"),
    ({"RAW_URI": None, "REQUEST_URI": "/a?q=1", "QUERY_STRING": "q=1"},
     "http://example.com/a?q=1"),
    ({"RAW_URI": None}, "http://example.com/a"),
    ({"PATH_INFO": None, "RAW_URI": None}, "http://example.com/"),
    ({"QUERY_STRING": "q=a b", "RAW_URI": "/a?q=a b"}, "http://example.com/a?q=a%20b"),
])
def test_url_from_environ(values: dict[str, Any], url: str) -> None:
    data = read_request(False, capture(False, environ(**values)), TrustedProxies())
    assert data.url == url


@pytest.mark.parametrize(("query", "referrer"), [
    ("ref=newsletter", "newsletter"),
    ("utm_source=mastodon&utm_medium=social", "mastodon"),
    ("r%65f=encoded", "encoded"),  # a parameter name may be percent-encoded
    ("a=1&b=2", ""),
    ("preferences=dark", ""),
])
def test_referrer_from_query(query: str, referrer: str) -> None:
    env = environ(QUERY_STRING=query, RAW_URI="/a?" + query)
    assert read_request(False, capture(False, env), TrustedProxies()).referrer == referrer


def test_capture_keeps_the_scope_fields_in_their_order() -> None:
    scope: dict[str, Any] = {name: f"value of {name}" for name in SCOPE_FIELDS}
    scope["headers"] = [(b"host", b"example.com")]
    assert capture(True, scope) == (((b"host", b"example.com"),),
                                    *(scope[name] for name in SCOPE_FIELDS[1:]))


@pytest.mark.parametrize("absent", [(), ENVIRON_FIELDS[::2], ENVIRON_FIELDS],
                         ids=["all there", "every other one", "none there"])
def test_capture_keeps_the_environ_fields_in_their_order(absent: tuple[str, ...]) -> None:
    """The WSGI capture spells its lookups out: each value lands where ENVIRON_FIELDS (and
    the runs the flusher reads by position) say it does."""
    env: dict[str, Any] = {name: f"value of {name}" for name in ENVIRON_FIELDS
                           if name not in absent}
    env["wsgi.input"] = object()
    assert capture(False, env) == tuple(env.get(name) for name in ENVIRON_FIELDS)
