"""`runner.client.reply`: the callback form and the Future form of a call's outcome."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from runner.client.reply import Reply, split_callback
from runner.errors import BusinessError


def callback(error: Any, value: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("options", "given", "expected"),
    [
        (None, None, (None, None)),
        ({"code": 1000}, None, ({"code": 1000}, None)),
        (callback, None, (None, callback)),  # close(cb), connect(url, cb)
        ({"code": 1000}, callback, ({"code": 1000}, callback)),
        (None, callback, (None, callback)),
    ],
)
def test_split_callback_overloads(options: Any, given: Any, expected: tuple[Any, Any]) -> None:
    assert split_callback(options, given) == (*expected, None)


def test_split_callback_rejects_a_non_callable_callback() -> None:
    options, found, error = split_callback({"code": 1000}, "not callable")
    assert (options, found) == ({"code": 1000}, None)
    assert isinstance(error, BusinessError) and error.code == 401


def test_future_form() -> None:
    reply = Reply(None)
    assert reply.succeed(True) is reply.future
    assert reply.future is not None and reply.future.result(0) is True
    failed = Reply(None)
    error = BusinessError(2302999)
    assert failed.fail(error) is failed.future
    assert failed.future is not None and failed.future.exception(0) is error


def test_callback_form() -> None:
    calls: list[tuple[Any, Any]] = []
    reply = Reply(lambda error, value: calls.append((error, value)))
    assert reply.future is None
    assert reply.succeed(True) is None
    error = BusinessError(401)
    assert Reply(lambda e, v: calls.append((e, v))).fail(error) is None
    assert calls == [(None, True), (error, None)]


def test_a_raising_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def explode(error: Any, value: Any) -> None:
        raise RuntimeError("callback failed")

    with caplog.at_level(logging.ERROR, logger="runner.client"):
        Reply(explode).succeed(True)
    [record] = caplog.records
    assert record.exc_info is not None and "callback failed" in str(record.exc_info[1])
