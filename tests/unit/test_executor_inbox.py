"""The inbox: first match, passed-over messages stay, next-only, noise, deadlines, close."""

from __future__ import annotations

import threading
import time

import pytest

from runner.client import CloseResult
from runner.executor.clock import Deadline, Interrupted
from runner.executor.inbox import Inbox, Message, NoMatch, Verdict
from tests.support import timeout


def equals(text: str) -> object:
    def judge(message: Message) -> Verdict:
        ok = message.data == text
        score = sum(a == b for a, b in zip(str(message.data), text, strict=False))
        return Verdict(ok, score=score, reason="" if ok else f"not {text!r}")

    return judge


def filled(*texts: str) -> Inbox:
    inbox = Inbox(threading.Event())
    for i, text in enumerate(texts):
        inbox.put(Message(float(i), text))
    return inbox


def test_take_returns_the_first_match_and_leaves_the_others() -> None:
    inbox = filled("a", "b", "c")
    assert inbox.take(equals("b"), Deadline.after(0)).data == "b"
    assert [m.data for m in inbox.leftovers()] == ["a", "c"]


def test_first_only_requires_the_oldest_message() -> None:
    inbox = filled("a", "b")
    with pytest.raises(NoMatch) as caught:
        inbox.take(equals("b"), Deadline.after(1), first_only=True)
    assert caught.value.why == "not-next"
    assert caught.value.closest is not None and caught.value.closest.message.data == "a"


def test_noise_is_dropped_even_with_first_only() -> None:
    inbox = filled("ping", "b")

    def judge(message: Message) -> Verdict:
        return Verdict(message.data == "b", ignore=message.data == "ping")

    assert inbox.take(judge, Deadline.after(0), first_only=True).data == "b"
    assert inbox.leftovers() == []


def test_timeout_reports_the_closest_message() -> None:
    inbox = filled("hello wrld", "xyz")
    started = time.monotonic()
    with pytest.raises(NoMatch) as caught:
        inbox.take(equals("hello world"), Deadline.after(0.2))
    assert caught.value.why == "timeout"
    assert 0.19 <= time.monotonic() - started < timeout(2)
    closest = caught.value.closest
    assert closest is not None and closest.message.data == "hello wrld"


def test_a_message_arriving_later_is_taken() -> None:
    inbox = filled()
    timer = threading.Timer(0.05, inbox.put, args=(Message(1.0, "late"),))
    timer.start()
    try:
        assert inbox.take(equals("late"), Deadline.after(timeout(2))).data == "late"
    finally:
        timer.cancel()


def test_close_ends_the_wait() -> None:
    inbox = filled("a")
    timer = threading.Timer(0.05, inbox.set_closed, args=(CloseResult(1001, "away", True),))
    timer.start()
    try:
        with pytest.raises(NoMatch) as caught:
            inbox.take(equals("b"), Deadline.after(timeout(5)))
    finally:
        timer.cancel()
    assert caught.value.why == "closed"
    assert inbox.wait_closed(Deadline.after(0)) == CloseResult(1001, "away", True)


def test_stop_interrupts_a_wait() -> None:
    stop = threading.Event()
    inbox = Inbox(stop)
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    try:
        with pytest.raises(Interrupted):
            inbox.take(equals("never"), Deadline.after(timeout(5)))
    finally:
        timer.cancel()
