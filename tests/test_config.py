"""Options: environment fallback, validation with messages that say what to fix."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pirsch_middleware import Tracker
from pirsch_middleware._auth import Credentials, normalize_base_url
from pirsch_middleware._rules import (
    CONTENT_TYPE,
    LONG_CONTENT_TYPE,
    LONG_PATH,
    MAX_CONTENT_TYPES,
    MAX_PATHS,
    NOT_MODIFIED,
    STATUS,
    UNTYPED,
    Rules,
)
from pirsch_middleware.asgi import PirschMiddleware as ASGIMiddleware
from pirsch_middleware.wsgi import PirschMiddleware as WSGIMiddleware

SECRET = "s" * 64


def test_options_from_the_environment() -> None:
    tracker = Tracker(environ={
        "PIRSCH_CLIENT_ID": "i" * 32, "PIRSCH_CLIENT_SECRET": SECRET,
        "PIRSCH_BASE_URL": "http://127.0.0.1:9/api/v1/", "PIRSCH_TRUSTED_PROXIES": "10.0.0.0/8",
        "PIRSCH_FLUSH_INTERVAL": "0.5", "PIRSCH_BATCH_SIZE": "7", "PIRSCH_MAX_QUEUE": "70",
        "PIRSCH_TIMEOUT": "2", "PIRSCH_RESPECT_DNT": "off"})
    options = tracker.options
    assert tracker.enabled
    assert options.base_url == "http://127.0.0.1:9"
    assert options.trusted_proxies.is_trusted("10.2.3.4")
    assert not options.trusted_proxies.is_trusted("127.0.0.1")
    assert (options.flush_interval, options.batch_size, options.max_queue) == (0.5, 7, 70)
    assert (options.timeout, options.respect_dnt) == (2.0, False)


def test_keyword_arguments_win_over_the_environment() -> None:
    tracker = Tracker(access_key="pa_kw", batch_size=3,
                      environ={"PIRSCH_ACCESS_KEY": "pa_env", "PIRSCH_BATCH_SIZE": "9"})
    assert tracker.options.credentials.access_key == "pa_kw"
    assert tracker.options.batch_size == 3


@pytest.mark.parametrize(("options", "message"), [
    ({"access_key": "pa_x", "client_id": "i" * 32, "client_secret": SECRET},
     "set either access_key alone"),
    ({"client_id": "i" * 32}, "client_secret is missing"),
    ({"client_secret": SECRET}, "client_id is missing"),
    ({"access_key": "nope"}, "must start with 'pa_'"),
    ({"access_key": "pa_ x"}, "whitespace"),
    ({"access_key": "pa_x", "trusted_proxies": "10.0.0.0/33"}, "not an IP address or CIDR"),
    ({"access_key": "pa_x", "flush_interval": -1}, "flush_interval must be at least"),
    ({"access_key": "pa_x", "flush_interval": "soon"}, "flush_interval must be a number"),
    ({"access_key": "pa_x", "batch_size": 0}, "batch_size must be at least 1"),
    ({"access_key": "pa_x", "batch_size": 10, "max_queue": 5}, "must not exceed max_queue"),
    ({"access_key": "pa_x", "timeout": True}, "timeout must be a number"),
    ({"access_key": "pa_x", "base_url": "ftp://x"}, "absolute http(s) URL"),
    ({"access_key": "pa_x", "base_url": "api.pirsch.io"}, "absolute http(s) URL"),
    ({"access_key": "pa_x", "respect_dnt": "maybe"}, "respect_dnt must be true or false"),
])
def test_bad_tracker_options_fail_at_construction(options: dict[str, Any], message: str,
                                                  ) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Tracker(environ={}, **options)


@pytest.mark.parametrize(("options", "message"), [
    ({"exclude": ["admin"]}, "neither a path prefix"),
    ({"exclude": ["re:("]}, "bad regular expression"),
    ({"track_methods": "GET"}, "track_methods must be a list"),
    ({"track_content_types": "text/html"}, "track_content_types must be a list"),
    ({"should_track": "yes"}, "should_track must be a callable"),
])
def test_bad_rule_options_fail_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Rules(environ={}, **options)


@pytest.mark.parametrize("middleware", [WSGIMiddleware, ASGIMiddleware])
def test_unknown_option_is_a_type_error(middleware: Any) -> None:
    with pytest.raises(TypeError, match="flush_intervall"):
        middleware(lambda *a: None, flush_intervall=1)


def test_tracker_and_tracker_options_together_are_refused() -> None:
    with pytest.raises(TypeError, match="either tracker"):
        WSGIMiddleware(lambda *a: [], tracker=Tracker(environ={}), access_key="pa_x")


def test_secrets_never_in_repr() -> None:
    tracker = Tracker(client_id="i" * 32, client_secret=SECRET, environ={})
    assert SECRET not in repr(tracker)
    assert SECRET not in repr(tracker.options)
    keyed = Tracker(access_key="pa_secretkey", environ={})
    assert "pa_secretkey" not in repr(keyed)
    assert "pa_secretkey" not in repr(keyed.options)


def test_access_key_given_as_client_secret() -> None:
    credentials = Credentials.resolve(client_secret="pa_abc")
    assert credentials.is_access_key
    assert credentials.access_key == "pa_abc"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.pirsch.io", "https://api.pirsch.io"),
    ("https://api.pirsch.io/", "https://api.pirsch.io"),
    ("https://api.pirsch.io/api/v1", "https://api.pirsch.io"),
    ("http://127.0.0.1:8765/prefix/", "http://127.0.0.1:8765/prefix"),
])
def test_base_url_normalised(url: str, expected: str) -> None:
    assert normalize_base_url(url) == expected


def test_the_answers_kept_per_path_stay_few_and_short() -> None:
    rules = Rules(exclude=["/admin/"], environ={})
    for n in range(3 * MAX_PATHS):
        assert rules.is_candidate("GET", f"/page/{n}")
        assert not rules.is_candidate("GET", f"/admin/{n}")
        assert rules.is_candidate("GET", f"/{n}" + "x" * LONG_PATH)
    assert 0 < len(rules.candidates) <= MAX_PATHS
    assert all(len(path) <= LONG_PATH for path in rules.candidates)
    assert rules.is_candidate("GET", "/page/1")
    assert not rules.is_candidate("GET", "/admin/1")


def test_the_answers_kept_per_content_type_stay_few_and_short() -> None:
    """Content types are judged alike whether seen before or not, and those whose answer
    is kept stay few and short."""
    rules = Rules(track_content_types=["text/html"], environ={})
    for n in range(3 * MAX_CONTENT_TYPES):
        for status, content_type, reason in (
                (200, f"text/html; charset=x{n}", None), (200, f"TEXT/HTML;q={n}", None),
                (200, f"application/json; v={n}", CONTENT_TYPE),
                (304, f"text/html; v={n}", NOT_MODIFIED),
                (200, f"text/html; v={n}" + "x" * LONG_CONTENT_TYPE, None),
                (200, "", UNTYPED), (204, "", CONTENT_TYPE), (304, "image/png", STATUS)):
            for _ in range(2):  # seen before or not
                assert rules.response_reason(status, content_type, "GET", "/", {}) == reason
    assert 0 < len(rules._typed) <= MAX_CONTENT_TYPES
    assert all(len(content_type) <= LONG_CONTENT_TYPE for content_type in rules._typed)


def test_exclude_from_the_environment() -> None:
    rules = Rules(environ={"PIRSCH_EXCLUDE": "/admin/, re:^/api/"})
    assert not rules.is_candidate("GET", "/admin/x")
    assert not rules.is_candidate("GET", "/api/v1")
    assert rules.is_candidate("GET", "/about")
