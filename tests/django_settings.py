"""Django, configured once per test process; test modules using Django import this first."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False, ALLOWED_HOSTS=["*"], SECRET_KEY="tests", ROOT_URLCONF="tests.test_django",
        DATABASES={}, INSTALLED_APPS=[], USE_TZ=True,
        MIDDLEWARE=["pirsch_middleware.django.PirschMiddleware"],
    )
    django.setup()
