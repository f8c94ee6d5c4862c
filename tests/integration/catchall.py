"""A tracked HTML page at every path, as a WSGI (``wsgi_app``) and an ASGI (``asgi_app``)
app, for the tests that send odd request-targets and forged headers through real servers
and proxies. Options come from ``PIRSCH_*`` variables (``harness.server_env``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pirsch_middleware import asgi, wsgi

PAGE = b"<!doctype html><html><head><title>Page</title></head><body>Page</body></html>"
HEADERS = [("Content-Type", "text/html; charset=utf-8")]


def _page(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [PAGE]


async def _asgi_page(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # lifespan: the middleware answers it
    await send({"type": "http.response.start", "status": 200,
                "headers": [(name.lower().encode(), value.encode()) for name, value in HEADERS]})
    await send({"type": "http.response.body", "body": PAGE})


wsgi_app = wsgi.PirschMiddleware(_page)
asgi_app = asgi.PirschMiddleware(_asgi_page)
