"""runner.recording.to_scenario on sessions built by hand: each rule of the draft, validated."""

from __future__ import annotations

from pathlib import Path

import yaml

from runner.recording import Close, Frame, Session, scenario_text
from runner.scenario import validate_paths

T0 = 1796119200.0  # 2026-12-01 10:00:00 UTC


def _draft(session: Session, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    draft = scenario_text(session, "drafted", "made by a test")
    path = tmp_path / "drafted.yaml"
    path.write_text(draft.text)
    assert validate_paths([path]) == [], draft.text
    return yaml.safe_load(draft.text)  # type: ignore[no-any-return]


def test_volatile_values_become_placeholders_and_echoes_stay(tmp_path: Path) -> None:
    session = Session()
    session.add_connection("ws://h/api", T0)
    session.frames += [
        Frame("api", "send", T0 + 0.1, '{"id": 7, "op": "get"}'),
        Frame("api", "receive", T0 + 0.2,
              '{"id": 7, "op": "got", "at": 1796119200123,'
              ' "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "when": "2026-12-01T10:00:00Z",'
              ' "order_id": 3, "ok": true, "price": 1.5}'),
    ]  # fmt: skip
    expect = _draft(session, tmp_path)["steps"][2]["expect"]
    assert expect["json"] == {
        "id": 7, "op": "got", "at": "{{integer}}", "uuid": "{{string}}", "when": "{{string}}",
        "order_id": "{{integer}}", "ok": True, "price": 1.5,
    }  # fmt: skip


def test_repeated_identical_heartbeats_become_an_ignore_rule(tmp_path: Path) -> None:
    session = Session()
    session.add_connection("ws://h/live", T0)
    session.frames += [
        Frame("live", "receive", T0 + i, f'{{"type": "heartbeat", "seq": {i}}}')
        for i in range(1, 5)
    ]
    session.frames.append(Frame("live", "receive", T0 + 2.5, '{"type": "news", "seq": 1}'))
    scenario = _draft(session, tmp_path)
    assert scenario["ignore"] == [{"json": {"type": "heartbeat"}}]
    assert [s for s in scenario["steps"] if "expect" in s] == [
        {"expect": {"conn": "live", "json": {"type": "news", "seq": 1}}}
    ]


def test_closes_dollars_and_comments(tmp_path: Path) -> None:
    session = Session()
    session.add_connection("ws://h/echo", T0)
    session.add_connection("ws://h/echo", T0 + 1)  # a second one: echo_2
    session.frames += [
        Frame("echo", "send", T0 + 0.5, "costs ${price}"),
        Frame("echo_2", "receive", T0 + 2, b"\x01"),
    ]
    session.closes += [
        Close("echo", "send", T0 + 3, 4000, "bye"),
        Close("echo_2", "receive", T0 + 4, 1001),
    ]
    draft = scenario_text(session, "closes")
    steps = yaml.safe_load(draft.text)["steps"]
    assert steps[1] == {"send": {"conn": "echo", "text": "costs $${price}"}}
    assert steps[-2:] == [
        {"close": {"conn": "echo", "code": 4000, "reason": "bye"}},
        {"expect_close": {"conn": "echo_2", "code": 1001}},
    ]
    assert "  # 2026-12-01 10:00:04.000 UTC (+4.000s)\n  - expect_close:" in draft.text


def test_a_value_is_correlated_as_a_whole_word_and_a_number_only_as_a_large_id(
    tmp_path: Path,
) -> None:
    session = Session()
    session.add_connection("ws://h/api", T0)
    session.frames += [
        Frame("api", "receive", T0 + 0.1, '{"name": "item-5", "order_id": 123456, "price": 150}'),
        Frame("api", "send", T0 + 0.2, '{"get": "item-50", "price": 150, "order": 123456}'),
        Frame("api", "receive", T0 + 0.3, '{"name": "item-7"}'),
        Frame("api", "send", T0 + 0.4, "buy item-7 now"),
    ]
    steps = _draft(session, tmp_path)["steps"]
    assert steps[1]["expect"]["save"] == {"order_id": "$.order_id"}  # not item-5, not 150
    assert steps[2]["send"]["json"] == {"get": "item-50", "price": 150, "order": "${order_id}"}
    assert steps[3]["expect"] == {
        "conn": "api",
        "json": {"name": "{{string}}"},
        "save": {"name": "$.name"},
    }
    assert steps[4]["send"] == {"conn": "api", "text": "buy ${name} now"}
