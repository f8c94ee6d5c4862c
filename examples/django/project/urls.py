"""URLs of the example project (see settings.py for how to run it)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("pricing", views.pricing),
    path("signup", views.signup),
    path("welcome", views.welcome),
    path("download", views.download),
    path("preview", views.preview),
    path("slow", views.slow),
    path("api/stats", views.stats),
]
