"""`runner.client.listeners`: on/off bookkeeping and dispatch that survives a bad listener."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from runner.client.listeners import EVENT_TYPES, ListenerRegistry
from runner.errors import BusinessError


def test_the_event_types() -> None:
    expected = {"open", "openInfo", "message", "close", "error", "headerReceive", "dataEnd"}
    assert expected == EVENT_TYPES


def test_listeners_run_in_the_order_added_with_the_arguments() -> None:
    registry = ListenerRegistry()
    calls: list[tuple[str, tuple[Any, ...]]] = []
    registry.add("message", lambda *args: calls.append(("a", args)))
    registry.add("message", lambda *args: calls.append(("b", args)))
    registry.emit("message", None, "hi")
    assert calls == [("a", (None, "hi")), ("b", (None, "hi"))]


def test_emit_without_listeners_does_nothing() -> None:
    registry = ListenerRegistry()
    registry.emit("close", None, None)
    assert not registry.has("close")


def test_the_same_listener_twice_is_kept_once() -> None:
    registry = ListenerRegistry()
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    registry.add("dataEnd", listener)
    registry.add("dataEnd", listener)
    registry.emit("dataEnd")
    assert calls == [1]


def test_remove_one_or_all() -> None:
    registry = ListenerRegistry()
    calls: list[str] = []

    def first(*args: Any) -> None:
        calls.append("first")

    def second(*args: Any) -> None:
        calls.append("second")

    registry.add("open", first)
    registry.add("open", second)
    registry.add("close", first)
    registry.remove("open", first)
    registry.emit("open")
    assert calls == ["second"]
    registry.remove("open")
    assert not registry.has("open")
    assert registry.has("close")  # other types are untouched
    registry.remove("open", second)  # removing what is not there does nothing
    registry.remove("error")


def test_a_listener_removed_during_dispatch_still_gets_this_event() -> None:
    registry = ListenerRegistry()
    calls: list[str] = []

    def remover(*args: Any) -> None:
        calls.append("remover")
        registry.remove("message", other)

    def other(*args: Any) -> None:
        calls.append("other")

    registry.add("message", remover)
    registry.add("message", other)
    registry.emit("message", None, "x")
    registry.emit("message", None, "y")
    assert calls == ["remover", "other", "remover"]


def test_a_raising_listener_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = ListenerRegistry()
    calls: list[str] = []

    def explode(*args: Any) -> None:
        raise KeyError("boom")

    registry.add("error", explode)
    registry.add("error", lambda *args: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="runner.client"):
        registry.emit("error", BusinessError(200))
    assert calls == ["after"]
    [record] = caplog.records
    assert record.name == "runner.client" and record.levelno == logging.ERROR
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)
    assert "'error' listener raised" in record.getMessage()


@pytest.mark.parametrize("event", ["mesage", "MESSAGE", "openinfo", "", None, 1])
def test_unknown_event_is_401(event: Any) -> None:
    registry = ListenerRegistry()
    for call in (lambda: registry.add(event, print), lambda: registry.remove(event)):
        with pytest.raises(BusinessError) as caught:
            call()
        assert caught.value.code == 401
        assert "unknown event" in caught.value.message
        assert "headerReceive" in caught.value.message  # lists the known ones


@pytest.mark.parametrize("listener", [None, "print", 1, object()])
def test_non_callable_listener_is_401(listener: Any) -> None:
    with pytest.raises(BusinessError) as caught:
        ListenerRegistry().add("message", listener)
    assert caught.value.code == 401
    assert "must be callable" in caught.value.message


def test_remove_with_a_non_callable_is_401() -> None:
    with pytest.raises(BusinessError) as caught:
        ListenerRegistry().remove("message", 5)  # type: ignore[arg-type]
    assert caught.value.code == 401
