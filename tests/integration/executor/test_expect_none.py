"""expect_none against a real server: it passes when nothing matches for `for`, and fails at
once, with the offending message, when something does (a step kind whose deadline is a pass)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection

from runner.events import Status
from runner.scenario import validate_paths
from tests.integration.executor.test_executor import ended, run
from tests.support import url_of, websockets_server


def delayed(conn: ServerConnection) -> None:
    """Each message `{"after": ms, "send": [texts]}` is answered with those texts, `ms` later;
    `{"close": code}` closes the connection with that code."""
    for raw in conn:
        order = json.loads(raw)
        if "close" in order:
            conn.close(order["close"], "asked")
            return
        time.sleep(order["after"] / 1000)
        for text in order["send"]:
            conn.send(text)


def scenario(*steps: str) -> str:
    lines = ["name: quiet", "steps:", '  - connect: "${url}"', *(f"  - {s}" for s in steps)]
    return "\n".join(lines) + "\n"


def order(after_ms: int, *texts: str) -> str:
    return "send: {json: " + json.dumps({"after": after_ms, "send": list(texts)}) + "}"


def test_passes_when_nothing_matches_for_its_window(tmp_path: Path) -> None:
    text = scenario(
        order(50, "hello"),
        "expect_none: {regex: error, for: 400ms}",
        "expect: hello",  # the message that did not match stayed for later steps
    )
    with websockets_server(delayed) as server:
        started = time.monotonic()
        status, events = run(tmp_path, {"q.yaml": text}, {"url": url_of(server)})
        took = time.monotonic() - started
    assert status is Status.PASSED, ended(events)["quiet"].failure
    assert took >= 0.4


def test_fails_as_soon_as_a_matching_message_arrives(tmp_path: Path) -> None:
    text = scenario(order(100, "ok", "error: disk full"), "expect_none: {regex: error, for: 20s}")
    with websockets_server(delayed) as server:
        started = time.monotonic()
        status, events = run(tmp_path, {"q.yaml": text}, {"url": url_of(server)})
        took = time.monotonic() - started
    failure = ended(events)["quiet"].failure
    assert status is Status.FAILED and failure is not None
    assert took < 5  # it did not wait out its 20 s
    assert failure.message.startswith("a message on 'default' matched 0.")
    assert failure.message.endswith("into expect_none (for: 20s)")
    assert failure.expected == "no message: text matching /error/"
    assert failure.closest == "error: disk full"
    assert failure.location is not None and failure.location.endswith("q.yaml:5:5")


def test_fails_when_a_matching_message_is_waiting_already(tmp_path: Path) -> None:
    text = scenario(order(0, "error 1"), "sleep: 200ms", "expect_none: {text: error 1, for: 1s}")
    with websockets_server(delayed) as server:
        status, events = run(tmp_path, {"q.yaml": text}, {"url": url_of(server)})
    failure = ended(events)["quiet"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.closest == "error 1"


def test_a_close_during_its_window_is_an_error_not_a_pass(tmp_path: Path) -> None:
    text = scenario("send: {json: {close: 4000}}", "expect_none: {text: x, for: 10s}")
    with websockets_server(delayed) as server:
        status, events = run(tmp_path, {"q.yaml": text}, {"url": url_of(server)})
    result = ended(events)["quiet"]
    failure = result.failure
    assert status is Status.FAILED and result.status is Status.ERROR and failure is not None
    assert failure.message == (
        "the connection 'default' closed during expect_none (close 4000 asked)"
    )


def test_a_run_timeout_that_cuts_its_window_short_fails_it(tmp_path: Path) -> None:
    text = scenario("expect_none: {text: x, for: 10s}")
    with websockets_server(delayed) as server:
        status, events = run(tmp_path, {"q.yaml": text}, {"url": url_of(server)}, timeout=0.5)
    failure = ended(events)["quiet"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.message.startswith("the scenario's --timeout ended expect_none after 0.")
    assert failure.message.endswith("s of its 10s")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("expect_none: {text: x}", "missing"),
        ("expect_none: {for: 1s}", "expected at least one matcher"),
        ("expect_none: {text: x, for: soon}", "expected a duration"),
    ],
)
def test_misuse_is_refused_at_its_line(tmp_path: Path, step: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(scenario(step).replace("${url}", "ws://127.0.0.1:1/"), encoding="utf-8")
    errors = validate_paths([path])
    assert len(errors) == 1 and message in errors[0].message
    assert errors[0].location is not None and errors[0].location.line == 4
