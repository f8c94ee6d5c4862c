"""Run from the repository root: ``uvicorn examples.django.project.asgi:application``.

Django's ASGI handler refuses uvicorn's lifespan events; Pirsch's middleware flushes on
SIGTERM instead, and again as each request still in flight at that moment finishes.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django.project.settings")

application = get_asgi_application()
