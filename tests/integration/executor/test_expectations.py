"""expect's count, optional, correlate and max_latency, and expect_all, expect_sequence and
poll, against a real server that answers on command."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection

from runner.events import Event, Failure, FrameSent, Status, StepEnded
from runner.scenario import validate_paths
from tests.integration.executor.test_executor import ended, run
from tests.support import echo, url_of, websockets_server


def commanded(conn: ServerConnection) -> None:
    """`{"after": ms, "send": [texts]}` answers with those texts `ms` later; `{"id": n, ...}`
    with any other keys is answered `{"id": n, "ok": true}`; `{"op": "status"}` answers
    `{"state": "pending"}` twice, then `{"state": "ready"}`."""
    polls = 0
    for raw in conn:
        order = json.loads(raw)
        if "after" in order:
            time.sleep(order["after"] / 1000)
            for text in order["send"]:
                conn.send(text)
        elif order.get("op") == "status":
            polls += 1
            conn.send(json.dumps({"state": "ready" if polls >= 3 else "pending"}))
        elif order.get("op") == "mute":
            pass
        elif "id" in order:
            conn.send(json.dumps({"id": order["id"], "ok": True}))


def scenario(*steps: str) -> str:
    lines = ["name: s", "timeout: 2s", "steps:", '  - connect: "${url}"']
    return "\n".join([*lines, *(f"  - {step}" for step in steps)]) + "\n"


def order(after_ms: int, *texts: str) -> str:
    return "send: {json: " + json.dumps({"after": after_ms, "send": list(texts)}) + "}"


def go(tmp_path: Path, text: str, **options: object) -> tuple[Status, list[Event]]:
    with websockets_server(commanded) as server:
        return run(tmp_path, {"s.yaml": text}, {"url": url_of(server)}, **options)


def failure_of(events: list[Event]) -> Failure:
    result = ended(events)["s"]
    assert result.failure is not None
    return result.failure


ticks = [json.dumps({"type": "tick", "seq": i}) for i in range(1, 6)]


def test_count_takes_that_many_matches_in_arrival_order(tmp_path: Path) -> None:
    text = scenario(
        order(0, ticks[0], "noise", *ticks[1:]),
        "expect: {json: {type: tick}, count: 5, save: {last: $.seq}}",
        "expect: {text: noise}",  # passed over, it stayed
        'send: "last ${last}"',
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED, failure_of(events)


def test_count_says_how_many_matched(tmp_path: Path) -> None:
    status, events = go(
        tmp_path,
        scenario(order(0, *ticks[:3]), "expect: {json: {type: tick}, count: 5, timeout: 300ms}"),
    )
    failure = failure_of(events)
    assert status is Status.FAILED
    assert failure.message.startswith("3 of 5 messages on 'default' matched within 0.")
    assert failure.expected == '5 messages: JSON containing {"type": "tick"}'


def test_count_over_a_long_inbox_is_fast(tmp_path: Path) -> None:
    many = [json.dumps({"n": i, "even": i % 2 == 0}) for i in range(10_000)]
    text = scenario(
        order(0, *many),
        "sleep: 500ms",
        "expect: {json: {even: true}, count: 5000, timeout: 5s}",
        "expect: {json: {even: false}, count: 5000, timeout: 5s}",
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED, failure_of(events)
    steps = [e for e in events if isinstance(e, StepEnded) and e.kind == "expect"]
    assert all(step.duration < 1.0 for step in steps), [s.duration for s in steps]


def test_optional_passes_either_way_and_says_which(tmp_path: Path) -> None:
    text = scenario(
        order(0, "promo"),
        "expect: {text: promo, optional: true, timeout: 1s}",
        "expect: {text: promo, optional: true, timeout: 200ms}",
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED
    notes = [e.note for e in events if isinstance(e, StepEnded) and e.kind == "expect"]
    assert notes == [None, "optional: no message matched"]


def test_correlate_takes_the_reply_to_the_last_send(tmp_path: Path) -> None:
    text = scenario(
        "send: {json: {id: 1, q: a}}",
        "send: {json: {id: 2, q: b}}",
        "expect: {json: {ok: true}, correlate: $.id, save: {got: $.id}}",
        'send: "got ${got}"',
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED, failure_of(events)
    sent = [e for e in events if isinstance(e, FrameSent)]
    assert sent[-1].data == "got 2"


def test_correlate_fails_showing_the_value_it_wanted(tmp_path: Path) -> None:
    text = scenario(
        order(0, json.dumps({"id": 9, "ok": True})),
        "sleep: 200ms",
        "send: {json: {op: mute, id: 7}}",
        "expect: {json: {ok: true}, correlate: $.id, timeout: 300ms}",
    )
    status, events = go(tmp_path, text)
    failure = failure_of(events)
    assert status is Status.FAILED
    assert failure.expected == 'JSON containing {"ok": true}, with $.id = 7 (as sent)'
    assert failure.reason == "correlate $.id: expected 7, found 9"


def test_max_latency_fails_a_late_answer_with_the_latency(tmp_path: Path) -> None:
    text = scenario(order(300, "late"), "expect: {text: late, max_latency: 100ms}")
    status, events = go(tmp_path, text)
    failure = failure_of(events)
    assert status is Status.FAILED
    assert failure.message.startswith("the message on 'default' matched 0.3")
    assert failure.message.endswith("s after the last send, over max_latency 0.1s")
    status, events = go(
        tmp_path, scenario(order(0, "soon"), "expect: {text: soon, max_latency: 1s}")
    )
    assert status is Status.PASSED


def test_expect_all_pairs_entries_in_any_order(tmp_path: Path) -> None:
    joined = json.dumps({"type": "joined", "user": "alice"})
    text = scenario(
        order(0, "said 42", "said it", joined, "other"),
        "expect_all:\n"
        "      messages:\n"
        "        - regex: '^said'\n"  # takes 'said 42' first, then gives it up for 'said it'
        "        - {regex: '^said (?P<n>\\d+)$', save: {}}\n"
        "        - json: {type: joined, user: alice}",
        'send: "n ${n}"',
        "expect: other",  # matched no entry: it stayed
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED, failure_of(events)
    sent = [e for e in events if isinstance(e, FrameSent)]
    assert sent[-1].data == "n 42"


def test_expect_all_lists_what_matched_and_what_did_not(tmp_path: Path) -> None:
    text = scenario(
        order(0, "a"),
        "expect_all: {timeout: 300ms, messages: [{text: a}, {text: b}]}",
    )
    _, events = go(tmp_path, text)
    failure = failure_of(events)
    assert failure.message.startswith("1 of 2 messages matched on 'default' within 0.")
    assert failure.expected == '#1 matched: text "a"; #2 waiting: text "b"'


def test_expect_sequence_in_order_with_others_between(tmp_path: Path) -> None:
    seq = [json.dumps({"seq": i}) for i in (2, 1, 9, 2)]
    text = scenario(
        order(0, *seq),
        "expect_sequence: {messages: [{json: {seq: 1}}, {json: {seq: 2}}]}",
        "expect: {json: {seq: 2}}",  # the first seq 2 came before seq 1: it stayed
        "expect: {json: {seq: 9}}",
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED, failure_of(events)


def test_a_strict_sequence_fails_on_a_message_between(tmp_path: Path) -> None:
    seq = [json.dumps({"seq": i}) for i in (1, 9, 2)]
    text = scenario(
        order(0, *seq),
        "expect_sequence: {strict: true, messages: [{json: {seq: 1}}, {json: {seq: 2}}]}",
    )
    status, events = go(tmp_path, text)
    failure = failure_of(events)
    assert status is Status.FAILED
    assert failure.message == "the next message on 'default' did not match entry #2 (strict: true)"
    assert failure.closest == '{"seq": 9}'


def test_poll_sends_until_the_answer_matches(tmp_path: Path) -> None:
    text = scenario(
        "poll: {send: {json: {op: status}}, until: {json: {state: ready}}, every: 100ms}",
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED, failure_of(events)
    polls = [e for e in events if isinstance(e, FrameSent)]
    assert len(polls) == 3


def test_poll_fails_with_the_last_answer(tmp_path: Path) -> None:
    text = scenario(
        "poll: {send: {json: {op: status}}, until: {json: {state: done}}, every: 100ms, "
        "timeout: 450ms}",
    )
    status, events = go(tmp_path, text)
    failure = failure_of(events)
    assert status is Status.FAILED
    assert re.fullmatch(
        r"no answer matched on 'default' in \d polls over 0\.4\d\ds", failure.message
    )
    assert failure.closest == '{"state": "ready"}'
    assert failure.expected == 'an answer: JSON containing {"state": "done"}'


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("expect: {text: x, count: 0}", "expected a count of 1 or more, found 0"),
        ("expect: {text: x, correlate: id}", "expected a JSONPath starting with $"),
        ("expect_all: {messages: []}", "'messages' is empty"),
        ("expect_all: {messages: [{save: {}}]}", "expected at least one matcher"),
        ("expect_sequence: {messages: [{text: a, bogus: 1}]}", "unknown key 'bogus'"),
        ("poll: {send: {json: {}}, every: 1s}", "missing"),
        ("poll: {send: {text: a, json: 1}, until: {text: b}}", "exactly one of text, json"),
        ("poll: {send: {text: a}, until: {text: b}, every: 0}", "expected every of 10ms or more"),
        (
            "expect_all: {messages: [" + ", ".join(["{text: a}"] * 201) + "]}",
            "'messages' is out of range",
        ),
    ],
)
def test_misuse_is_refused_at_its_line(tmp_path: Path, step: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(scenario(step).replace("${url}", "ws://127.0.0.1:1/"), encoding="utf-8")
    errors = validate_paths([path])
    assert errors and message in errors[0].message, [e.message for e in errors]
    assert errors[0].location is not None and errors[0].location.line >= 5


def test_echo_still_works(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        status, _ = run(
            tmp_path, {"s.yaml": scenario("send: hi", "expect: hi")}, {"url": url_of(server)}
        )
    assert status is Status.PASSED


def test_a_save_from_a_text_json_message_reads_the_json_after_the_prefix(tmp_path: Path) -> None:
    text = scenario(
        order(0, '42["chat",{"user":"alice","id":7}]'),
        "expect: {text_json: {prefix: '42', json: [chat, {id: 7}]}, save: {who: '$[1].user'}}",
        'send: "hello ${who}"',
    )
    status, events = go(tmp_path, text)
    assert status is Status.PASSED, failure_of(events)
    assert [e for e in events if isinstance(e, FrameSent)][-1].data == "hello alice"
