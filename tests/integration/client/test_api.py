"""The API of issue 2: overloads, events and their payloads, order, threads, listeners."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection

from runner.client import (
    BusinessError,
    CloseOptions,
    CloseResult,
    ConnectOptions,
    OpenResult,
    WebSocket,
    create_websocket,
)
from tests.integration.client.recorder import Recorder, Settled, outcome, wait_until
from tests.support import echo, timeout, url_of, websockets_server


def open_ws(ws: WebSocket, url: str, options: Any = None) -> Recorder:
    recorder = Recorder(ws)
    future = ws.connect(url, options)
    assert future is not None and future.result(timeout()) is True
    return recorder


# -- overloads -------------------------------------------------------------------------------

ConnectCall = Callable[[WebSocket, str, Settled], "Future[bool] | None"]
OPTIONS = {"header": {"X-Token": "t"}}

CONNECT_FORMS: dict[str, tuple[ConnectCall, bool]] = {
    "connect(url)": (lambda ws, url, cb: ws.connect(url), False),
    "connect(url, cb)": (lambda ws, url, cb: ws.connect(url, cb), True),
    "connect(url, options)": (lambda ws, url, cb: ws.connect(url, OPTIONS), False),
    "connect(url, options, cb)": (lambda ws, url, cb: ws.connect(url, OPTIONS, cb), True),
    "connect(url, ConnectOptions)": (
        lambda ws, url, cb: ws.connect(url, ConnectOptions(header={"X-Token": "t"})),
        False,
    ),
    "connect(url=, options=, callback=)": (
        lambda ws, url, cb: ws.connect(url=url, options=OPTIONS, callback=cb),
        True,
    ),
    "connect(url, callback=)": (lambda ws, url, cb: ws.connect(url, callback=cb), True),
    "connect(url, options=)": (lambda ws, url, cb: ws.connect(url, options=OPTIONS), False),
}


@pytest.mark.parametrize("form", CONNECT_FORMS)
def test_every_connect_overload_opens(form: str, echo_server: Server, ws: WebSocket) -> None:
    call, uses_callback = CONNECT_FORMS[form]
    recorder = Recorder(ws)
    settled = Settled() if uses_callback else None
    result = call(ws, url_of(echo_server, "/x"), settled or Settled())
    assert outcome(result, settled) == (None, True)
    assert ws.ready_state == "OPEN"
    assert recorder.names()[:2] == ["headerReceive", "open"]
    if settled is not None:
        assert settled.calls == 1 and settled.thread != threading.get_ident()


def test_options_headers_reach_the_server(ws: WebSocket) -> None:
    seen: list[Headers] = []

    def record(conn: ServerConnection, request: Request) -> None:
        seen.append(request.headers)  # runs before the server answers the upgrade

    with websockets_server(echo, process_request=record) as server:
        open_ws(ws, url_of(server), {"header": {"X-Token": "t", "Origin": "http://o.test"}})
        assert seen[0]["X-Token"] == "t"
        assert seen[0]["Origin"] == "http://o.test"
        ws.close().result(timeout())
        assert ws.wait_closed(timeout())


SEND_FORMS: dict[str, tuple[Callable[[WebSocket, Settled], Any], bool]] = {
    "send(data)": (lambda ws, cb: ws.send("text"), False),
    "send(data, cb)": (lambda ws, cb: ws.send("text", cb), True),
    "send(data=, callback=)": (lambda ws, cb: ws.send(data="text", callback=cb), True),
    "send(bytes)": (lambda ws, cb: ws.send(b"text"), False),
    "send(bytearray, cb)": (lambda ws, cb: ws.send(bytearray(b"text"), cb), True),
    "send(memoryview)": (lambda ws, cb: ws.send(memoryview(b"text")), False),
}


@pytest.mark.parametrize("form", SEND_FORMS)
def test_every_send_overload_sends(form: str, echo_server: Server, ws: WebSocket) -> None:
    call, uses_callback = SEND_FORMS[form]
    recorder = open_ws(ws, url_of(echo_server))
    settled = Settled() if uses_callback else None
    result = call(ws, settled or Settled())
    if isinstance(result, Future):
        assert result.done(), "send settles before it returns"
    assert outcome(result, settled) == (None, True)
    expected: str | bytes = "text" if form.startswith("send(data") else b"text"
    assert recorder.messages(1) == [expected]


CLOSE_FORMS: dict[str, tuple[Callable[[WebSocket, Settled], Any], bool, int, str]] = {
    "close()": (lambda ws, cb: ws.close(), False, 1000, ""),
    "close(cb)": (lambda ws, cb: ws.close(cb), True, 1000, ""),
    "close(options)": (
        lambda ws, cb: ws.close({"code": 4001, "reason": "bye"}),
        False,
        4001,
        "bye",
    ),
    "close(options, cb)": (lambda ws, cb: ws.close({"code": 3000}, cb), True, 3000, ""),
    "close(CloseOptions)": (
        lambda ws, cb: ws.close(CloseOptions(1001, "away")),
        False,
        1001,
        "away",
    ),
    "close(options=, callback=)": (
        lambda ws, cb: ws.close(options={"reason": "r"}, callback=cb),
        True,
        1000,
        "r",
    ),
    "close(callback=)": (lambda ws, cb: ws.close(callback=cb), True, 1000, ""),
}


@pytest.mark.parametrize("form", CLOSE_FORMS)
def test_every_close_overload_closes(form: str, ws: WebSocket) -> None:
    call, uses_callback, code, reason = CLOSE_FORMS[form]
    received: list[tuple[int | None, str | None]] = []

    def record_close(conn: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            echo(conn)
        received.append((conn.close_code, conn.close_reason))

    with websockets_server(record_close) as server:
        recorder = open_ws(ws, url_of(server))
        settled = Settled() if uses_callback else None
        assert outcome(call(ws, settled or Settled()), settled) == (None, True)
        # The server echoes the status, which becomes the close event's (RFC 6455 §5.5.1).
        assert recorder.closed() == CloseResult(code, reason, was_clean=True)
        assert wait_until(lambda: bool(received))
        assert received == [(code, reason)]


# -- events and their payloads ---------------------------------------------------------------


def add_header(conn: ServerConnection, request: Request, response: Response) -> None:
    response.headers["X-Custom-Header"] = "Value"


def greet_twice(conn: ServerConnection) -> None:
    conn.recv()
    conn.send("hello")
    conn.send(b"\x00\x01\xff")
    conn.close(1000, "done")


def test_events_payloads_and_order(ws: WebSocket) -> None:
    with websockets_server(greet_twice, process_response=add_header) as server:
        recorder = open_ws(ws, url_of(server))
        ws.send("go")
        closed = recorder.closed()
    assert recorder.names() == [
        "headerReceive",
        "open",
        "message",
        "dataEnd",
        "message",
        "dataEnd",
        "close",
    ]
    headers = recorder.of("headerReceive")[0].args[0]
    assert headers["x-custom-header"] == "Value"
    assert headers["upgrade"].lower() == "websocket"
    assert all(name == name.lower() for name in headers)
    opened = recorder.opened()
    assert (opened.status, opened.message, opened.protocol) == (101, "Switching Protocols", None)
    assert opened.headers["x-custom-header"] == "Value"
    assert recorder.of("open")[0].args[0] is None
    assert [e.args for e in recorder.of("message")] == [(None, "hello"), (None, b"\x00\x01\xff")]
    assert all(e.args == () for e in recorder.of("dataEnd"))
    assert closed == CloseResult(1000, "done", was_clean=True)
    assert ws.ready_state == "CLOSED"


def count_to(conn: ServerConnection) -> None:
    total = int(conn.recv())
    for number in range(total):
        conn.send(str(number) if number % 2 else str(number).encode())
    echo(conn)


def test_events_in_strict_order_on_one_thread_never_the_callers(ws: WebSocket) -> None:
    with websockets_server(count_to) as server:
        recorder = open_ws(ws, url_of(server))
        ws.send("300")
        messages = recorder.messages(300)
        ws.close()
        recorder.closed()
    assert [int(m) for m in messages] == list(range(300))
    assert [type(m) for m in messages[:2]] == [bytes, str]
    names = recorder.names()
    assert names[2:-1] == ["message", "dataEnd"] * 300
    threads = {event.thread for event in recorder.events}
    assert len(threads) == 1
    assert threading.get_ident() not in threads


def test_failed_connect_events_not_on_the_callers_thread(ws: WebSocket) -> None:
    recorder = Recorder(ws)
    settled = Settled()
    ws.connect("ws://127.0.0.1:1/", {"timeout": timeout(1)}, settled)
    settled.wait()
    assert recorder.names() == ["error"]
    assert recorder.events[0].thread != threading.get_ident()
    assert settled.thread != threading.get_ident()


def test_connect_future_settles_after_the_open_listeners_ran(
    echo_server: Server, ws: WebSocket
) -> None:
    ran: list[str] = []
    ws.on("open", lambda err, value: ran.append("open"))
    future = ws.connect(url_of(echo_server))
    assert future is not None
    future.add_done_callback(lambda f: ran.append("settled"))
    future.result(timeout())
    assert wait_until(lambda: len(ran) == 2)
    assert ran == ["open", "settled"]


def test_ready_state_and_url(echo_server: Server, ws: WebSocket) -> None:
    assert ws.ready_state == "CLOSED" and ws.url is None and ws.protocol is None
    recorder = open_ws(ws, url_of(echo_server, "/state"))
    assert ws.ready_state == "OPEN" and ws.url == url_of(echo_server, "/state")
    ws.close()
    assert ws.ready_state in ("CLOSING", "CLOSED")
    recorder.closed()
    assert ws.ready_state == "CLOSED"


# -- listeners -------------------------------------------------------------------------------


def test_several_listeners_per_type_and_off(echo_server: Server, ws: WebSocket) -> None:
    calls: list[tuple[str, Any]] = []

    def first(err: Any, data: Any) -> None:
        calls.append(("first", data))

    def second(err: Any, data: Any) -> None:
        calls.append(("second", data))

    ws.on("message", first)
    ws.on("message", second)
    ws.on("message", first)  # the same callable twice is kept once
    recorder = open_ws(ws, url_of(echo_server))

    def exchange(text: str, count: int) -> None:
        ws.send(text)
        recorder.wait_for("dataEnd", count)

    exchange("a", 1)
    ws.off("message", first)
    exchange("b", 2)
    ws.off("message")
    exchange("c", 3)
    assert calls == [("first", "a"), ("second", "a"), ("second", "b")]
    # off("message") removed the recorder's message listener too; dataEnd still came.
    assert [event.args[1] for event in recorder.of("message")] == ["a", "b"]


def test_off_message_keeps_other_types(echo_server: Server, ws: WebSocket) -> None:
    messages: list[Any] = []
    ends: list[None] = []
    ws.on("message", lambda err, data: messages.append(data))
    ws.on("dataEnd", lambda: ends.append(None))
    open_ws(ws, url_of(echo_server))
    ws.off("message")
    ws.send("x")
    assert wait_until(lambda: len(ends) == 1)
    assert messages == []


def test_off_with_a_listener_never_added_does_nothing(echo_server: Server, ws: WebSocket) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    ws.off("message", lambda err, data: None)
    ws.send("still")
    assert recorder.messages(1) == ["still"]


def test_a_raising_listener_is_logged_and_dispatch_goes_on(
    echo_server: Server, ws: WebSocket, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(err: Any, data: Any) -> None:
        raise ValueError(f"boom on {data}")

    ws.on("message", explode)
    recorder = open_ws(ws, url_of(echo_server))
    with caplog.at_level(logging.ERROR, logger="runner.client"):
        ws.send("one")
        ws.send("two")
        assert recorder.messages(2) == ["one", "two"]
        recorder.wait_for("dataEnd", 2)
    failures = [r for r in caplog.records if r.exc_info and "boom on" in str(r.exc_info[1])]
    assert len(failures) == 2
    assert failures[0].levelno == logging.ERROR and "message" in failures[0].getMessage()
    assert "Traceback" in caplog.text and "ValueError: boom on one" in caplog.text


def test_a_raising_callback_is_logged(
    echo_server: Server, ws: WebSocket, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(err: Any, value: Any) -> None:
        raise RuntimeError("callback boom")

    recorder = Recorder(ws)
    with caplog.at_level(logging.ERROR, logger="runner.client"):
        ws.connect(url_of(echo_server), explode)
        recorder.opened()
        assert wait_until(lambda: "callback boom" in caplog.text)
    ws.send("after")
    assert recorder.messages(1) == ["after"]


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("on", ("mesage", lambda err, data: None)),
        ("on", ("Message", lambda err, data: None)),
        ("on", ("openinfo", lambda err, data: None)),
        ("on", (5, lambda err, data: None)),
        ("on", ("message", "not callable")),
        ("on", ("message", None)),
        ("off", ("nope",)),
        ("off", ("close", 42)),
    ],
)
def test_on_off_with_bad_arguments_raise_401(method: str, args: tuple[Any, ...]) -> None:
    ws = create_websocket()
    with pytest.raises(BusinessError) as caught:
        getattr(ws, method)(*args)
    assert caught.value.code == 401
    assert caught.value.message.startswith("Parameter error")


# -- calls from other threads and from listeners ---------------------------------------------


def in_thread(action: Callable[[], Any]) -> Any:
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(action()))
    thread.start()
    thread.join(timeout())
    assert results, "the call did not return"
    return results[0]


def test_methods_called_from_other_threads(echo_server: Server, ws: WebSocket) -> None:
    recorder = Recorder(ws)
    assert in_thread(lambda: ws.connect(url_of(echo_server))).result(timeout()) is True
    assert in_thread(lambda: ws.send("from a thread")).result(timeout()) is True
    assert recorder.messages(1) == ["from a thread"]
    assert in_thread(lambda: ws.close({"code": 4002})).result(timeout()) is True
    assert recorder.closed().code == 4002


def test_many_threads_send_at_once(echo_server: Server, ws: WebSocket) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    payloads = [f"{t}-{n}" for t in range(4) for n in range(50)]

    def send_batch(batch: int) -> None:
        for n in range(50):
            assert ws.send(f"{batch}-{n}").result(timeout()) is True

    threads = [threading.Thread(target=send_batch, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout())
    received = recorder.messages(200)
    assert sorted(received) == sorted(payloads)
    for t in range(4):  # each thread's own messages stay in order
        mine = [m for m in received if isinstance(m, str) and m.startswith(f"{t}-")]
        assert mine == [f"{t}-{n}" for n in range(50)]


def test_send_and_close_from_the_message_listener(echo_server: Server, ws: WebSocket) -> None:
    outcomes: list[Any] = []

    def answer(err: Any, data: Any) -> None:
        if data == "1":
            future = ws.send("2")
            outcomes.append(future is not None and future.done() and future.result())
        elif data == "2":
            outcomes.append(ws.close({"code": 4000, "reason": "from listener"}))

    ws.on("message", answer)
    recorder = open_ws(ws, url_of(echo_server))
    ws.send("1")
    assert recorder.closed() == CloseResult(4000, "from listener", was_clean=True)
    assert recorder.messages(2) == ["1", "2"]
    assert outcomes[0] is True
    assert outcomes[1].result(timeout()) is True


def test_close_from_the_open_listener(echo_server: Server, ws: WebSocket) -> None:
    ws.on("open", lambda err, value: ws.close({"code": 4003}))
    recorder = Recorder(ws)
    ws.connect(url_of(echo_server))
    assert recorder.closed().code == 4003
    assert recorder.names() == ["headerReceive", "open", "close"]


def test_open_result_is_the_same_in_event_and_attributes(
    echo_server: Server, ws: WebSocket
) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    opened = recorder.opened()
    assert isinstance(opened, OpenResult)
    assert opened.headers == recorder.of("headerReceive")[0].args[0]
    ws.close()
    recorder.closed()
