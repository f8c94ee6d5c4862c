"""The process's trackers: the default one, the ones shared by options, and what happens
to all of them at fork, at shutdown and at exit.

Shutdown has one budget per process. A server may flush more than once as it stops
(uvicorn: the SIGTERM handler, requests still in flight, lifespan shutdown; gunicorn:
SIGTERM, then ``atexit``). Every such flush draws on the same ``shutdown_timeout`` of
waiting, so SIGTERM to exit takes at most that plus the server's own shutdown work (the
time spent waiting for requests in flight is the server's, and is not counted).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._tracker import Tracker

__all__ = [
    "ShutdownBudget",
    "budget",
    "flushed_by_lifespan",
    "get_tracker",
    "register",
    "resolve_tracker",
    "set_tracker",
    "shutdown_flush",
    "stopping",
    "trackers",
    "tracking_off",
]

_trackers: weakref.WeakSet[Tracker] = weakref.WeakSet()
_made = [False, False]  # [a tracker with tracking off was made, one with tracking on]
_default: Tracker | None = None
_by_options: dict[Any, Tracker] = {}
_lock = threading.Lock()
# Trackers an ASGI lifespan will flush at shutdown: after every request has finished, and
# without blocking the event loop, so neither the SIGTERM handler nor the requests still
# in flight need to.
_lifespan_flushed: weakref.WeakSet[Tracker] = weakref.WeakSet()


class Flag:
    """A process-wide yes or no, read on the request path as an attribute (``flag.up``):
    ``threading.Event.is_set()`` is a method call, 3% of an ASGI page view's request path.
    Nothing waits on it."""

    __slots__ = ("up",)

    def __init__(self) -> None:
        self.up = False

    def set(self) -> None:
        self.up = True

    def clear(self) -> None:
        self.up = False


stopping = Flag()  # set when the process got SIGTERM


class Recording(Protocol):
    """Takes over every tracker of the process while it lasts (``testing.record``)."""

    def attach(self, tracker: Tracker) -> None: ...

    def detach(self, tracker: Tracker) -> None: ...


_recording: Recording | None = None


def register(tracker: Tracker) -> None:
    """Called by every tracker as it is built."""
    _trackers.add(tracker)
    _made[tracker.enabled] = True
    if _recording is not None:
        _recording.attach(tracker)


def start_recording(recording: Recording) -> None:
    global _recording
    if _recording is not None:
        raise RuntimeError("pirsch_middleware.testing.record() is already recording; "
                           "nest no second one")
    _recording = recording
    for tracker in trackers():
        recording.attach(tracker)


def stop_recording(recording: Recording) -> None:
    global _recording
    if _recording is recording:
        _recording = None
        for tracker in trackers():
            recording.detach(tracker)


def trackers() -> list[Tracker]:
    return list(_trackers)


def flushed_by_lifespan(tracker: Tracker, *, started: bool | None = None) -> bool:
    """Whether ``tracker`` is flushed at lifespan shutdown; ``started`` says so."""
    if started is not None:
        if started:
            _lifespan_flushed.add(tracker)
        else:
            _lifespan_flushed.discard(tracker)
    return tracker in _lifespan_flushed


def tracking_off() -> bool:
    """True when trackers were made in this process and all of them have tracking off:
    then ``track_event``, ``set_title``... outside a tracked request are expected (the
    middleware passes requests through untouched) and not worth a warning each."""
    return _made[False] and not _made[True]


def get_tracker() -> Tracker:
    """The process's default tracker: the first one built, else one from ``PIRSCH_*``."""
    global _default
    if _default is None:
        from ._tracker import Tracker

        with _lock:
            if _default is None:
                _default = Tracker()
    return _default


def set_tracker(tracker: Tracker | None) -> None:
    """Make ``tracker`` the default used outside middlewares (``None`` resets it)."""
    global _default
    _default = tracker


def resolve_tracker(tracker: Tracker | None, options: Mapping[str, Any]) -> Tracker:
    """The tracker a middleware uses: the one given, a new one built from its options
    (which becomes the default if there is none yet), or the default one."""
    global _default
    if tracker is not None:
        if options:
            raise TypeError("pass either tracker=... or tracker options "
                            f"({', '.join(sorted(options))}), not both")
        return tracker
    if not options:
        return get_tracker()
    from ._tracker import Tracker

    # Frameworks build middlewares more than once (Django's test Client, app factories):
    # the same options share one tracker and its thread.
    try:
        key: Any = tuple(sorted(options.items()))
        hash(key)
    except TypeError:
        key = None
    with _lock:
        built = _by_options.get(key) if key is not None else None
        if built is None or built.closed:
            built = Tracker(**options)
            if key is not None:
                _by_options[key] = built
        if _default is None:
            _default = built
    return built


class ShutdownBudget:
    """How long the process has waited on Pirsch while shutting down. Overlapping waits
    (requests in flight flushing in several threads) count once::

        with budget.spend():
            tracker.flush(budget.remaining(tracker.options.shutdown_timeout))
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent = 0.0
        self._active = 0
        self._since = 0.0

    def remaining(self, limit: float) -> float:
        with self._lock:
            spent = self._spent
            if self._active:
                spent += time.monotonic() - self._since
        return max(0.0, limit - spent)

    @contextmanager
    def spend(self) -> Iterator[None]:
        with self._lock:
            if not self._active:
                self._since = time.monotonic()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if not self._active:
                    self._spent += time.monotonic() - self._since

    def reset(self) -> None:
        """A new run of the app (a lifespan startup): the last shutdown is over."""
        with self._lock:
            self._spent = 0.0


budget = ShutdownBudget()


def shutdown_flush(tracker: Tracker | None = None, *, final: bool = False) -> bool:
    """Flush ``tracker`` (None: every running one that no lifespan flushes) on the way
    out, within the process's shutdown budget. ``final``: nothing more will be tracked;
    log what became of it all."""
    targets = [tracker] if tracker is not None else \
        [each for each in trackers() if each not in _lifespan_flushed]
    ok = True
    with budget.spend():
        for each in targets:
            if not each.enabled or each.closed:
                continue
            if not each.flush(budget.remaining(each.options.shutdown_timeout)):
                ok = False
            if final:
                each.log_summary("at shutdown")
    return ok


def _close_at_exit() -> None:
    with budget.spend():
        for tracker in trackers():
            if tracker.running and not tracker.closed:
                tracker.close(budget.remaining(tracker.options.shutdown_timeout))


def _after_fork_in_child() -> None:
    stopping.clear()
    budget.reset()
    for tracker in trackers():
        tracker._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)
