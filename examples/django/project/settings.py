"""Run (repository root): ``gunicorn examples.django.project.wsgi`` (ASGI: see asgi.py).

A minimal Django project with Pirsch: no database, no contrib apps. Pirsch is configured
only through ``PIRSCH_*`` environment variables (``PIRSCH_ACCESS_KEY`` or
``PIRSCH_CLIENT_ID``/``PIRSCH_CLIENT_SECRET``, ``PIRSCH_BASE_URL``,
``PIRSCH_TRUSTED_PROXIES``...); a ``PIRSCH = {...}`` dict here would take precedence.
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

ROOT_URLCONF = "examples.django.project.urls"
WSGI_APPLICATION = "examples.django.project.wsgi.application"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
MIDDLEWARE = [
    # First, so it sees every response, including those made by the middlewares below.
    "pirsch_middleware.django.PirschMiddleware",
    "django.middleware.common.CommonMiddleware",
]
USE_TZ = True
