"""The executor against real servers on loopback: inboxes, matching, failures, -j, services."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.sync.server import ServerConnection

from runner.events import (
    Event,
    EventBus,
    FrameReceived,
    ScenarioEnded,
    ServiceStarted,
    ServiceStopped,
    Status,
    StepEnded,
)
from runner.executor import RunOptions, run_suite
from runner.scenario import load_suite
from runner.server import TestServer
from tests.integration.executor import peers
from tests.support import echo, timeout, url_of, websockets_server


def run(
    tmp_path: Path, files: dict[str, str], variables: dict[str, str], **options: Any
) -> tuple[Status, list[Event]]:
    """Write scenario files, run them all, return the run's status and every event."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    suite = load_suite([str(tmp_path)], variables)
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    status = run_suite(suite, suite.scenarios, RunOptions(**options), bus.emit)
    return status, events


def ended(events: list[Event]) -> dict[str, ScenarioEnded]:
    return {e.name: e for e in events if isinstance(e, ScenarioEnded)}


def with_server(handler: Callable[[ServerConnection], None]) -> Any:
    return websockets_server(handler)


ECHO = """
name: echo
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, json: {type: greet, id: 7}}
  - expect: {conn: a, json: {type: greet}, save: {got: $.id}}
  - send: {conn: a, text: "id ${got}"}
  - expect: {conn: a, regex: '^id (?P<n>\\d+)$'}
  - send: {conn: a, text: "n=${n}"}
  - expect: {conn: a, text: "n=7"}
  - close: {conn: a, code: 1000, reason: bye}
  - expect_close: {conn: a, code: 1000}
"""


def test_echo_scenario_passes_with_saved_variables(tmp_path: Path) -> None:
    with with_server(echo) as server:
        status, events = run(tmp_path, {"echo.yaml": ECHO}, {"url": url_of(server)})
    assert status is Status.PASSED
    result = ended(events)["echo"]
    assert (result.status, result.steps_passed, result.steps_total) == (Status.PASSED, 9, 9)
    expects = [e for e in events if isinstance(e, StepEnded) and e.kind == "expect"]
    assert len(expects) == 3
    assert all(e.latency is not None and e.latency_from_send is not None for e in expects)
    assert all(0 <= (e.latency_from_send or 0) < timeout(2) for e in expects)


EARLY = """
name: early
steps:
  - connect: {conn: a, url: "${url}"}
  - sleep: 100ms
  - send: {conn: a, text: x}
  - expect: {conn: a, text: x}
  - expect: {conn: a, text: hello}
"""


def test_a_message_that_arrived_before_its_expect_is_kept(tmp_path: Path) -> None:
    with with_server(peers.hello_then_echo) as server:
        status, events = run(tmp_path, {"early.yaml": EARLY}, {"url": url_of(server)})
    assert status is Status.PASSED, ended(events)["early"].failure
    assert ended(events)["early"].unexpected == ()


NEXT = """
name: next
timeout: 1s
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, text: x}
  - expect: {conn: a, text: x, next: true}
"""


def test_next_requires_the_oldest_message(tmp_path: Path) -> None:
    with with_server(peers.hello_then_echo) as server:
        status, events = run(tmp_path, {"next.yaml": NEXT}, {"url": url_of(server)})
    assert status is Status.FAILED
    failure = ended(events)["next"].failure
    assert failure is not None and "did not match (next: true)" in failure.message
    assert failure.closest == "hello"


MISMATCH = """
name: mismatch
timeout: 300ms
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, json: {type: said, text: hi}}
  - send: {conn: a, text: unrelated}
  - expect: {conn: a, json: {type: said, text: hello}}
"""


def test_a_failed_expect_shows_the_closest_message_and_a_json_diff(tmp_path: Path) -> None:
    with with_server(echo) as server:
        started = time.monotonic()
        status, events = run(tmp_path, {"m.yaml": MISMATCH}, {"url": url_of(server)})
    assert status is Status.FAILED
    assert time.monotonic() - started < timeout(3)
    failure = ended(events)["mismatch"].failure
    assert failure is not None
    assert failure.message.startswith("no message on 'a' matched within 0.3")
    assert failure.location is not None and failure.location.endswith("m.yaml:8:5")
    assert failure.closest == '{"type":"said","text":"hi"}'
    assert failure.diff is not None and '-  "text": "hello"' in failure.diff
    # the first echo may come back before or after the second send: both orders are right
    kinds = [e.event for e in failure.recent][-4:]
    assert sorted(kinds) == ["received", "received", "sent", "sent"], kinds
    assert kinds[0] == "sent" and kinds[-1] == "received", kinds
    assert [u.data for u in ended(events)["mismatch"].unexpected] == [
        '{"type":"said","text":"hi"}',
        "unrelated",
    ]


DIES = """
name: dies
timeout: 5s
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, text: x}
  - expect: {conn: a, text: x}
"""

AFTER = """
name: after
steps:
  - connect: {conn: b, url: "${echo_url}"}
  - send: {conn: b, text: still here}
  - expect: {conn: b, text: still here}
"""


def test_a_server_that_dies_fails_that_scenario_and_the_run_goes_on(tmp_path: Path) -> None:
    with with_server(peers.dies_after_first) as dying, with_server(echo) as alive:
        variables = {"url": url_of(dying), "echo_url": url_of(alive)}
        started = time.monotonic()
        status, events = run(tmp_path, {"1.yaml": DIES, "2.yaml": AFTER}, variables)
    assert time.monotonic() - started < timeout(4)  # the close ends the wait, not the 5 s timeout
    assert status is Status.FAILED
    results = ended(events)
    assert results["after"].status is Status.PASSED
    failure = results["dies"].failure
    assert failure is not None and "closed before a matching message (close 1006" in failure.message


def test_a_silent_server_fails_at_the_deadline(tmp_path: Path) -> None:
    text = DIES.replace("timeout: 5s", "timeout: 200ms").replace("name: dies", "name: silent")
    with with_server(peers.silent) as server:
        started = time.monotonic()
        status, events = run(tmp_path, {"s.yaml": text}, {"url": url_of(server)})
    assert 0.2 <= time.monotonic() - started < timeout(3)
    failure = ended(events)["silent"].failure
    assert status is Status.FAILED and failure is not None
    assert "matched within 0.2" in failure.message


def test_garbage_from_the_server_fails_with_a_protocol_error(tmp_path: Path) -> None:
    text = DIES.replace("name: dies", "name: garbage")
    with with_server(peers.garbage_after_first) as server:
        status, events = run(tmp_path, {"g.yaml": text}, {"url": url_of(server)})
    failure = ended(events)["garbage"].failure
    assert status is Status.FAILED and failure is not None
    assert "close 1002" in failure.message
    assert any(e.event == "error" for e in failure.recent)


REFUSED = """
name: refused
steps:
  - connect: {conn: a, url: "${url}/auth", expect_status: 401}
  - connect: {conn: b, url: "${url}/auth", expect_status: 403}
"""


def test_expect_status_checks_the_rejected_handshake(tmp_path: Path) -> None:
    with TestServer() as server:
        status, events = run(tmp_path, {"r.yaml": REFUSED}, {"url": server.url})
    failure = ended(events)["refused"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.message == "expected the handshake to be refused with HTTP 403, found HTTP 401"
    assert failure.step == 1


def test_a_refused_connection_is_an_error_of_that_scenario(tmp_path: Path) -> None:
    with with_server(echo) as server:
        url = url_of(server)  # the server stops before the run: nothing listens there
    status, events = run(tmp_path, {"d.yaml": DIES}, {"url": url})
    result = ended(events)["dies"]
    assert status is Status.FAILED and result.status is Status.ERROR
    assert result.failure is not None and result.failure.message.startswith("cannot connect to")


HEARTBEAT = """
name: noise
ignore:
  - regex: heartbeat
steps:
  - connect: {conn: a, url: "${url}/heartbeat?interval=20"}
  - sleep: 100ms
  - send: {conn: a, text: ping}
  - expect: {conn: a, text: ping, next: true}
"""


def test_ignore_rules_drop_noise(tmp_path: Path) -> None:
    with TestServer() as server:
        status, events = run(tmp_path, {"h.yaml": HEARTBEAT}, {"url": server.url})
    assert status is Status.PASSED, ended(events)["noise"].failure
    assert ended(events)["noise"].unexpected == ()
    assert any(isinstance(e, FrameReceived) and "heartbeat" in str(e.data) for e in events)


def test_jobs_run_scenarios_at_once(tmp_path: Path) -> None:
    files = {f"s{i}.yaml": f"name: s{i}\nsteps:\n  - sleep: 300ms\n" for i in range(4)}
    started = time.monotonic()
    status, events = run(tmp_path, files, {}, jobs=4)
    elapsed = time.monotonic() - started
    assert status is Status.PASSED
    assert len(ended(events)) == 4
    assert elapsed < 0.3 * 4 * 0.75, f"4 x 300 ms on 4 workers took {elapsed:.2f} s"


def test_fail_fast_skips_the_scenarios_not_started(tmp_path: Path) -> None:
    with with_server(peers.silent) as server:
        text = DIES.replace("timeout: 5s", "timeout: 100ms")
        files = {"1.yaml": text, "2.yaml": AFTER}
        status, events = run(
            tmp_path, files, {"url": url_of(server), "echo_url": "ws://x"}, fail_fast=True
        )
    assert status is Status.FAILED
    assert ended(events)["after"].status is Status.SKIPPED


SUITE = """
services:
  - name: server
    command: [wsrun, serve, --port, "0"]
    ready: {log: 'listening on (?P<url>ws://\\S+)'}
    provides:
      base_url: "${url}"
"""


def test_suite_services_start_provide_variables_and_stop(tmp_path: Path) -> None:
    scenario = ECHO.replace('"${url}"', '"${base_url}/echo"')
    files = {"wsrun-suite.yaml": SUITE, "echo.yaml": scenario}
    status, events = run(tmp_path, files, {})
    assert status is Status.PASSED, ended(events)["echo"].failure
    started = [e for e in events if isinstance(e, ServiceStarted)]
    assert started and started[0].provides["base_url"].startswith("ws://127.0.0.1:")
    assert any(isinstance(e, ServiceStopped) for e in events)


TWO_SERVERS = """
services:
  - name: first
    command: [wsrun, serve, --port, "0"]
    ready: {log: 'listening on (?P<url>ws://\\S+)'}
    provides: {first_url: "${url}"}
  - name: second
    command: [wsrun, serve, --port, "0"]
    ready: {log: 'listening on (?P<url>ws://\\S+)'}
    provides: {second_url: "${url}"}
"""


def test_each_service_provides_from_its_own_captures(tmp_path: Path) -> None:
    # Both capture `url`: each `provides` must see its own service's, not the last one's.
    scenario = ECHO.replace('"${url}"', '"${first_url}/echo"')
    files = {"wsrun-suite.yaml": TWO_SERVERS, "echo.yaml": scenario}
    status, events = run(tmp_path, files, {})
    assert status is Status.PASSED, ended(events)["echo"].failure
    first, second = (e.provides for e in events if isinstance(e, ServiceStarted))
    assert first["first_url"] != second["second_url"]
    assert first["first_url"].startswith("ws://127.0.0.1:")


HOPS = """
name: hops
timeout: 10s
steps:
  - connect: {conn: a, url: "${echo_url}"}
  - connect: {conn: b, url: "${silent_url}"}
  - send: {conn: a, text: one}
  - expect: {conn: a, text: one}
  - send: {conn: b, text: two}
  - expect: {conn: b, text: two, timeout: 200ms}
"""


def test_a_deadline_set_on_a_connection_thread_is_kept(tmp_path: Path) -> None:
    # The echo of "one" is taken on a's thread, which then sends on b and leaves the next
    # expect waiting there: the scenario's thread must still end it after 200 ms, not 10 s.
    with with_server(echo) as echoing, with_server(peers.silent) as silent:
        variables = {"echo_url": url_of(echoing), "silent_url": url_of(silent)}
        started = time.monotonic()
        status, events = run(tmp_path, {"h.yaml": HOPS}, variables)
    assert 0.2 <= time.monotonic() - started < timeout(3)
    result = ended(events)["hops"]
    assert status is Status.FAILED and result.failure is not None
    assert result.failure.step == 5 and result.steps_passed == 5
    assert result.failure.message.startswith("no message on 'b' matched within 0.2")


def test_many_round_trips_keep_their_order_and_latencies(tmp_path: Path) -> None:
    steps = "".join(f"  - send: m{i}\n  - expect: m{i}\n" for i in range(200))
    text = f'name: many\nsteps:\n  - connect: "${{url}}"\n{steps}  - close\n'
    with with_server(echo) as server:
        status, events = run(tmp_path, {"many.yaml": text}, {"url": url_of(server)})
    assert status is Status.PASSED
    expects = [e for e in events if isinstance(e, StepEnded) and e.kind == "expect"]
    assert [e.index for e in expects] == list(range(2, 402, 2))
    assert all(e.latency_from_send is not None for e in expects)
    assert ended(events)["many"].unexpected == ()
