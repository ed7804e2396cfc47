"""Event listeners of a WebSocket: `on`, `off`, and in-order dispatch that survives bad ones."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from runner.errors import BusinessError, ErrorCode

__all__ = ["EVENT_TYPES", "Listener", "ListenerRegistry"]

#: The events of `@ohos.net.webSocket` this core emits; `openInfo` (API 26) follows `open`.
EVENT_TYPES = frozenset(
    {"open", "openInfo", "message", "close", "error", "headerReceive", "dataEnd"}
)

Listener = Callable[..., Any]

log = logging.getLogger("runner.client")


class ListenerRegistry:
    """Listeners per event type.

    Unlike OpenHarmony, which keeps one listener per type (a later `on` replaces the earlier one),
    several are kept, called in the order they were added; adding the same callable twice keeps
    one. Lists are replaced, never mutated, so that dispatch reads them without a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, tuple[Listener, ...]] = {}

    def add(self, event: str, listener: Listener) -> None:
        """Register `listener` for `event`; raise `BusinessError` 401 for a bad type or callable."""
        _check(event, listener, required=True)
        with self._lock:
            current = self._listeners.get(event, ())
            if listener not in current:
                self._listeners[event] = (*current, listener)

    def remove(self, event: str, listener: Listener | None = None) -> None:
        """Remove `listener`, or every listener of `event` when it is None."""
        _check(event, listener, required=False)
        with self._lock:
            if listener is None:
                self._listeners.pop(event, None)
            else:
                current = self._listeners.get(event, ())
                self._listeners[event] = tuple(item for item in current if item != listener)

    def has(self, event: str) -> bool:
        """Whether any listener of `event` is registered."""
        return bool(self._listeners.get(event))

    def emit(self, event: str, *args: Any) -> None:
        """Call every listener of `event`; one that raises is logged and the others still run."""
        for listener in self._listeners.get(event, ()):
            try:
                listener(*args)
            except Exception:
                log.exception("a %r listener raised; dispatch goes on", event)


def _check(event: object, listener: object, *, required: bool) -> None:
    if not isinstance(event, str) or event not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise BusinessError(
            ErrorCode.PARAMETER, f"Parameter error: unknown event {event!r}; known: {known}"
        )
    if (listener is not None or required) and not callable(listener):
        raise BusinessError(
            ErrorCode.PARAMETER, f"Parameter error: the {event!r} listener must be callable"
        )
