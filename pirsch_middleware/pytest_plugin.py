"""The pytest plugin, registered by the package's ``pytest11`` entry point: installing
pirsch-middleware is enough to get the ``pirsch`` fixture in any test suite::

    def test_home(client, pirsch):
        client.get("/")
        assert pirsch.hits[0]["url"] == "http://testserver/"

The package itself is imported only by tests that use the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import Recorder

__all__ = ["pirsch"]


@pytest.fixture
def pirsch() -> Iterator[Recorder]:
    """A recorder of what the app would send to Pirsch, empty at the start of the test
    (``pirsch_middleware.testing.record``): ``.hits``, ``.events``, ``.sessions`` (the JSON
    items, as dicts) and ``.filtered`` (what was not sent, and why)."""
    from .testing import record

    with record() as recorder:
        yield recorder
