"""The examples under real servers (gunicorn, uvicorn), against the loopback receiver."""

import pytest

# Assertions in the shared helpers explain themselves as those in test modules do.
pytest.register_assert_rewrite("tests.integration.scenario", "tests.integration.harness")
