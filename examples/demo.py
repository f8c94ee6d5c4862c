"""The demo: a local Pirsch-compatible receiver, an example app in front of it, a few
visits, and what reached the receiver. No Pirsch account needed.

    python examples/demo.py
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx

from pirsch_middleware import get_tracker
from pirsch_middleware.devserver import DevServer

HERE = Path(__file__).resolve().parent
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 " \
         "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
VISITS: list[tuple[str, str, dict[str, str], str]] = [
    ("GET", "/", {"user-agent": FIREFOX, "referer": "https://news.ycombinator.com/"},
     "a page view, with its referrer"),
    ("GET", "/pricing?utm_source=newsletter", {"user-agent": SAFARI, "accept-language": "de-DE"},
     "a page view, referrer from utm_source"),
    ("POST", "/signup", {"user-agent": FIREFOX}, "a form post: no page view, one event"),
    ("GET", "/welcome", {"user-agent": FIREFOX, "x-forwarded-for": "198.51.100.23"},
     "a page view through a proxy on 127.0.0.1 (trusted: the IP comes from the header)"),
    ("GET", "/api/stats", {"user-agent": FIREFOX}, "JSON: not tracked"),
    ("GET", "/static/site.css", {"user-agent": FIREFOX}, "a static file: not tracked"),
    ("GET", "/missing", {"user-agent": FIREFOX}, "a 404: not tracked"),
    ("GET", "/", {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}, "a bot: not tracked"),
    ("GET", "/", {"user-agent": FIREFOX, "dnt": "1"}, "Do Not Track: not tracked"),
]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def load_example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"example_{name}", HERE / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def main() -> int:
    with DevServer() as receiver:
        # The example is configured only through the environment, as in production.
        os.environ.update({"PIRSCH_BASE_URL": receiver.base_url,
                           "PIRSCH_ACCESS_KEY": receiver.access_key})
        app = load_example("wsgi")
        server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        site = f"http://127.0.0.1:{server.server_port}"
        print(f"receiver  {receiver.base_url}  (a local stand-in for api.pirsch.io)")
        print(f"example   {site}  (examples/wsgi/app.py)\n")
        with httpx.Client(base_url=site) as client:
            for method, path, headers, what in VISITS:
                status = client.request(method, path, headers=headers).status_code
                print(f"  {method:4} {path:34} {status}  {what}")
        tracker = get_tracker()
        delivered = tracker.flush(timeout=10)
        server.shutdown()
        print(f"\nreceived by {receiver.base_url}:")
        for entry in receiver.received:
            item = entry.item
            name = f" {item['event_name']!r} {item.get('event_meta', '')}" \
                if entry.kind == "event" else ""
            print(f"  {entry.kind:5} {item['url']:45} ip={item['ip']:15} "
                  f"referrer={item.get('referrer', '-')}{name}")
        stats = tracker.stats()
        print(f"\ntracker: {stats.sent} sent, {stats.filtered} filtered (bots, DNT), "
              f"{stats.failed} failed, {stats.dropped} dropped")
        ok = delivered and len(receiver.hits) == 3 and len(receiver.events) == 1
        print("demo OK" if ok else "demo FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
