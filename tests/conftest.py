"""Shared fixtures: a real loopback receiver and trackers pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pirsch_middleware import Tracker, set_tracker
from pirsch_middleware._registry import budget
from pirsch_middleware.devserver import DevServer

TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def receiver() -> Iterator[DevServer]:
    server = DevServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_tracker(receiver: DevServer) -> Iterator[TrackerFactory]:
    """Trackers that send to the receiver with an access key and fast retries."""
    made: list[Tracker] = []

    def make(**options: Any) -> Tracker:
        options.setdefault("base_url", receiver.base_url)
        if not {"client_id", "client_secret"} & options.keys():
            options.setdefault("access_key", receiver.access_key)
        options.setdefault("retry_base", 0.01)
        options.setdefault("retry_cap", 0.05)
        options.setdefault("environ", {})
        tracker = Tracker(**options)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close(timeout=2)
    set_tracker(None)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Async tests (``@pytest.mark.anyio``) run on both event loops."""
    backend: str = request.param
    return backend


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Each test starts as a fresh process would: no default tracker, and the whole
    shutdown budget (a test that stops with the API down spends it)."""
    set_tracker(None)
    budget.reset()
    yield
    set_tracker(None)
