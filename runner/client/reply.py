"""How a call's outcome reaches its caller: the callback form `cb(err, value)`, or a Future."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from runner.errors import BusinessError, ErrorCode

__all__ = ["Callback", "Reply", "split_callback"]

Callback = Callable[[BusinessError | None, Any], Any]

log = logging.getLogger("runner.client")


class Reply:
    """One call's outcome: settled once, to its callback or to the Future handed back."""

    def __init__(self, callback: Callback | None) -> None:
        self._callback = callback
        self.future: Future[bool] | None = None if callback is not None else Future()

    def succeed(self, value: bool = True) -> Future[bool] | None:
        """Settle with `value`; return what the API call returns (the Future, or None)."""
        if self.future is not None:
            self.future.set_result(value)
        else:
            self._call(None, value)
        return self.future

    def fail(self, error: BusinessError) -> Future[bool] | None:
        """Settle with `error`; return what the API call returns (the Future, or None)."""
        if self.future is not None:
            self.future.set_exception(error)
        else:
            self._call(error, None)
        return self.future

    def _call(self, error: BusinessError | None, value: bool | None) -> None:
        assert self._callback is not None
        try:
            self._callback(error, value)
        except Exception:
            log.exception("a callback raised; it is ignored")


def split_callback(options: Any, callback: Any) -> tuple[Any, Any, BusinessError | None]:
    """Resolve the `(options)`, `(callback)` and `(options, callback)` overloads.

    Returns the options, a usable callback (or None), and a 401 error when the callback given is
    not callable (the call then fails through a Future).
    """
    if callback is None and callable(options):
        return None, options, None
    if callback is not None and not callable(callback):
        bad = BusinessError(ErrorCode.PARAMETER, "Parameter error: callback must be callable")
        return options, None, bad
    return options, callback, None
