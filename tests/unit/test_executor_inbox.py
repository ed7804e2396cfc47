"""The inbox: first match, passed-over messages stay, next-only, noise, waiters, close."""

from __future__ import annotations

import threading

import pytest

from runner.client import CloseResult
from runner.executor.clock import Deadline
from runner.executor.inbox import Inbox, Message, NoMatch, Verdict, Waiter


class Equals(Waiter):
    """A waiter for a message equal to `text` (a closer miss shares a longer prefix)."""

    def __init__(self, text: str) -> None:
        super().__init__(Deadline.after(1.0))
        self.text = text

    def judge(self, message: Message) -> Verdict:
        text = self.text
        ok = message.data == text
        score = sum(a == b for a, b in zip(str(message.data), text, strict=False))
        return Verdict(ok, ignore=message.data == "ping", score=score, reason=f"not {text!r}")

    def settle(self, outcome: Message | NoMatch) -> None:
        settled.extend((self, outcome))


def equals(text: str) -> Waiter:
    return Equals(text)


settled: list[object] = []


def filled(*texts: str) -> Inbox:
    inbox = Inbox(threading.Event())
    for i, text in enumerate(texts):
        inbox.put(Message(float(i), text))
    return inbox


def outcome_of(waiter: Waiter) -> object:
    """What `waiter` was settled with (on the thread that settled it)."""
    found = [o for w, o in zip(settled[::2], settled[1::2], strict=True) if w is waiter]
    return found[-1] if found else None


@pytest.fixture(autouse=True)
def _fresh() -> None:
    settled.clear()


def test_take_returns_the_first_match_and_leaves_the_others() -> None:
    inbox = filled("a", "b", "c")
    message = inbox.take_or_wait(equals("b"))
    assert message is not None and message.data == "b"
    assert [m.data for m in inbox.leftovers()] == ["a", "c"]


def test_noise_is_dropped_and_first_only_skips_it() -> None:
    inbox = filled("ping", "b")
    waiter = equals("b")
    waiter.first_only = True
    message = inbox.take_or_wait(waiter)
    assert message is not None and message.data == "b"
    assert inbox.leftovers() == []


def test_first_only_requires_the_oldest_message() -> None:
    inbox = filled("a", "b")
    waiter = equals("b")
    waiter.first_only = True
    with pytest.raises(NoMatch) as caught:
        inbox.take_or_wait(waiter)
    assert caught.value.why == "not-next"
    assert caught.value.closest is not None and caught.value.closest.message.data == "a"


def test_a_waiter_is_settled_by_the_next_matching_message() -> None:
    inbox = filled("hello wrld")
    waiter = equals("hello world")
    assert inbox.take_or_wait(waiter) is None
    inbox.put(Message(5.0, "xyz"))
    assert outcome_of(waiter) is None
    inbox.put(Message(6.0, "hello world"))
    outcome = outcome_of(waiter)
    assert isinstance(outcome, Message) and outcome.at == 6.0
    assert [m.data for m in inbox.leftovers()] == ["hello wrld", "xyz"]
    assert waiter.closest is not None and waiter.closest.message.data == "hello wrld"


def test_a_waiting_first_only_step_fails_on_a_wrong_message() -> None:
    inbox = filled("ping")
    waiter = equals("b")
    waiter.first_only = True
    assert inbox.take_or_wait(waiter) is None
    inbox.put(Message(1.0, "ping"))  # noise: still waiting
    assert outcome_of(waiter) is None
    inbox.put(Message(2.0, "a"))
    outcome = outcome_of(waiter)
    assert isinstance(outcome, NoMatch) and outcome.why == "not-next"


def test_close_settles_a_waiter_and_refuses_new_ones() -> None:
    inbox = filled("a")
    waiter = equals("b")
    assert inbox.take_or_wait(waiter) is None
    inbox.set_closed(CloseResult(1001, "away", True))
    outcome = outcome_of(waiter)
    assert isinstance(outcome, NoMatch) and outcome.why == "closed"
    with pytest.raises(NoMatch, match="closed"):
        inbox.take_or_wait(equals("b"))
    assert inbox.wait_closed(Deadline.after(0)) == CloseResult(1001, "away", True)


def test_a_cancelled_waiter_is_never_settled() -> None:
    inbox = filled()
    waiter = equals("b")
    assert inbox.take_or_wait(waiter) is None
    assert inbox.cancel(waiter) is True
    assert inbox.cancel(waiter) is False
    inbox.put(Message(1.0, "b"))
    assert outcome_of(waiter) is None
    assert [m.data for m in inbox.leftovers()] == ["b"]
