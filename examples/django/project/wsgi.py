"""Run (repository root): ``PIRSCH_ACCESS_KEY=pa_... gunicorn examples.django.project.wsgi``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django.project.settings")

application = get_wsgi_application()
