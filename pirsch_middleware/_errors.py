"""Exceptions shared by the tracker and the statistics client."""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = ["APIError", "PirschError", "parse_error_body"]


class PirschError(Exception):
    """Base class of every error this package raises on purpose."""


class APIError(PirschError):
    """The Pirsch API answered with an error status.

    The documented error body ``{"validation": {...}, "error": [...]}`` is parsed into
    ``validation`` (field name -> message) and ``errors`` (general messages)::

        try:
            client.visitors(f)
        except APIError as exc:
            print(exc.status_code, exc.validation, exc.errors)
    """

    def __init__(
        self,
        status_code: int,
        validation: Mapping[str, str] | None = None,
        errors: list[str] | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.validation: dict[str, str] = dict(validation or {})
        self.errors: list[str] = list(errors or [])
        super().__init__(message or self._describe())

    def _describe(self) -> str:
        text = f"Pirsch API answered {self.status_code}"
        if self.errors:
            text += ": " + "; ".join(self.errors)
        if self.validation:
            fields = ", ".join(f"{k}: {v}" for k, v in sorted(self.validation.items()))
            text += f" (invalid fields: {fields})"
        return text

    @classmethod
    def from_response(cls, status_code: int, body: bytes, *, context: str = "") -> APIError:
        """Build the error from a response status and body (any body, parsed leniently)."""
        validation, errors = parse_error_body(body)
        error = cls(status_code, validation, errors)
        if context:
            error.args = (f"{context}: {error.args[0]}",)
        return error


def parse_error_body(body: bytes) -> tuple[dict[str, str], list[str]]:
    """Read Pirsch's error body; anything else becomes one general error message."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return {}, []
    try:
        data = json.loads(text)
    except ValueError:
        return {}, [text[:500]]
    if not isinstance(data, dict):
        return {}, [text[:500]]
    validation_raw = data.get("validation") or {}
    errors_raw = data.get("error") or []
    validation = (
        {str(k): str(v) for k, v in validation_raw.items()}
        if isinstance(validation_raw, dict)
        else {}
    )
    if isinstance(errors_raw, str):
        errors = [errors_raw]
    elif isinstance(errors_raw, list):
        errors = [str(e) for e in errors_raw]
    else:
        errors = []
    return validation, errors
