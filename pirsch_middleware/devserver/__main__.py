"""``python -m pirsch_middleware.devserver``: see ``_cli``."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
