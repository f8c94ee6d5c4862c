"""``python -m pirsch_middleware.devserver``: a receiver in the foreground that prints each
item it accepts, for trying an app by hand; its live page and statistics are there too."""

from __future__ import annotations

import argparse
import io
import ipaddress
import signal
import sys
import threading
from datetime import datetime, timezone
from types import FrameType

from ._server import DevServer, Received

__all__ = ["main"]


def _describe(entry: Received) -> str:
    item = entry.item
    when = item.get("time") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = f"{item['event_name']!r} on" if entry.kind == "event" else ""
    agent = str(item.get("user_agent", ""))
    agent = agent if len(agent) <= 50 else agent[:47] + "..."
    parts = (f"{entry.kind:<7}", when, name, item.get("url", ""), item.get("ip", ""), agent)
    return "  ".join(str(part) for part in parts if part)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m pirsch_middleware.devserver``: serve in the foreground, print each item."""
    parser = argparse.ArgumentParser(prog="python -m pirsch_middleware.devserver",
                                     description="A local Pirsch API printing what it gets, "
                                     "with a live page and statistics.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--access-key", help="the pa_... key to accept (default: random)")
    parser.add_argument("--client-id", help="oAuth client id to accept (default: random)")
    parser.add_argument("--client-secret", help="oAuth client secret to accept")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime, seconds")
    parser.add_argument("--max-batch", type=int, help="answer 413 to larger batches")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host that is not a loopback address")
    args = parser.parse_args(argv)
    if (args.client_id is None) != (args.client_secret is None):
        parser.error("--client-id and --client-secret go together")
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not args.allow_remote:
        parser.error(f"--host {args.host} is not a loopback address; add --allow-remote to use it")
    try:
        server = DevServer(args.host, args.port, token_ttl=args.token_ttl,
                           max_batch=args.max_batch, client_id=args.client_id,
                           client_secret=args.client_secret, access_key=args.access_key).start()
    except (ValueError, OSError) as exc:
        print(f"devserver: {exc}", file=sys.stderr)
        return 1
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if isinstance(sys.stdout, io.TextIOWrapper):  # an odd URL must not crash the printing loop
        sys.stdout.reconfigure(errors="replace", line_buffering=True)
    printed = 0
    try:
        print(f"Pirsch dev server on {server.base_url}")  # tests read this line first
        print(f"  live page:     {server.base_url}/\n"
              f"  received:      {server.base_url}/devserver/received\n"
              f"  access key:    {server.access_key}\n  client id:     {server.client_id}\n"
              f"  client secret: {server.client_secret}\n"
              "Statistics of what it receives (with no PIRSCH_ACCESS_KEY set):\n"
              f"  PIRSCH_BASE_URL={server.base_url} PIRSCH_CLIENT_ID={server.client_id} "
              f"PIRSCH_CLIENT_SECRET={server.client_secret} pirsch stats pages\n"
              "Ctrl-C to stop.", flush=True)
        while True:
            if server.wait_for_items(printed + 1, timeout=0.5):
                for entry in server.received[printed:]:
                    print(_describe(entry), flush=True)
                    printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
