"""Pirsch for Flask::

    from pirsch_middleware.flask import Pirsch
    Pirsch(app)                       # or: pirsch = Pirsch(); pirsch.init_app(app)

Options come from keyword arguments, then ``app.config["PIRSCH_<OPTION>"]`` (e.g.
``PIRSCH_ACCESS_KEY``, ``PIRSCH_EXCLUDE``), then the environment. ``track_event`` works
in views and blueprints without arguments.
"""

from __future__ import annotations

try:
    from flask import Flask
except ImportError as exc:  # pragma: no cover - exercised without Flask installed
    raise ImportError(
        "pirsch_middleware.flask needs Flask: pip install 'pirsch-middleware[flask]'"
    ) from exc

import logging
from typing import Any

from ._config import RULE_OPTIONS, TRACKER_OPTIONS, check_option_names, closest
from ._tracker import Tracker
from .wsgi import PirschMiddleware

__all__ = ["Pirsch"]

logger = logging.getLogger("pirsch_middleware")
OPTIONS = TRACKER_OPTIONS | RULE_OPTIONS | {"tracker"}
CONFIG_KEYS = {"PIRSCH_" + name.upper(): name for name in OPTIONS}


class Pirsch:
    """Flask extension: wraps ``app.wsgi_app`` in the WSGI middleware.

    After ``init_app``, ``app.extensions["pirsch"]`` is this object and
    ``pirsch.tracker`` the tracker (for ``flush()`` in tests, or ``stats()``).
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        check_option_names(options, OPTIONS, "Pirsch")
        self.options = options
        self.tracker: Tracker | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if isinstance(app.extensions.get("pirsch"), Pirsch):
            logger.warning("Pirsch: init_app() was called again for %r; it is tracked once "
                           "already, so this call changes nothing", app.name)
            self.tracker = app.extensions["pirsch"].tracker
            return
        options: dict[str, Any] = {}
        for key, value in app.config.items():
            if not key.startswith("PIRSCH_"):
                continue
            if key in CONFIG_KEYS:
                options[CONFIG_KEYS[key]] = value
            else:
                logger.warning("Pirsch: app.config[%r] is not a Pirsch option%s; it is "
                               "ignored", key, closest(key, CONFIG_KEYS))
        options.update(self.options)
        middleware = PirschMiddleware(app.wsgi_app, **options)
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions["pirsch"] = self
        self.tracker = middleware.tracker
