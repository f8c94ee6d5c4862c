"""A local, strict stand-in for Pirsch's write API, for tests, demos and users' own test suites.

It speaks the endpoints a tracker writes to (``/api/v1/token``, ``/hit``, ``/event``, ``/session``
and their ``/batch`` forms) over real HTTP on loopback, and rejects what the real API would get
wrong silently: unknown fields, missing ``time`` in batches, items out of time order, bools sent
as 0/1. Failures, slowness, token expiry and outages can be injected::

    from pirsch_middleware.devserver import DevServer

    with DevServer() as server:  # 127.0.0.1 on a free port
        post_some_hits(base_url=server.base_url, access_key=server.access_key)
        assert server.wait_for_items(2)
        assert server.hits[0]["url"] == "https://example.com/"
        server.fail_next(status=503, retry_after=1)  # the next write request fails

Its root URL is a live page of what it received (hits, events and sessions, newest first,
counted per path and per event). It also answers the statistics endpoints ``Client`` and the
``pirsch`` command use most, computed from what it received, for its oAuth client::

    with Client(server.client_id, server.client_secret, base_url=server.base_url) as client:
        domain = client.domains()[0]  # one per host name page views were sent for
        client.pages(Filter(domain.id, from_date=date.today(), to_date=date.today()))

From a shell: ``python -m pirsch_middleware.devserver --port 8765`` prints each item it accepts.

The modules: ``_schema`` (what the write endpoints accept), ``_http`` (the HTTP shell),
``_server`` (``DevServer``: state, lifecycle, routing), ``_live`` (the live page, with
``live.html`` and ``live.js``), ``_visits``, ``_agents``, ``_query`` and ``_stats`` (the
statistics), ``_cli`` (the command).
"""

from __future__ import annotations

from ._cli import main
from ._server import DevServer, Received, RecordedRequest

__all__ = ["DevServer", "Received", "RecordedRequest", "main"]
