"""`protocol: graphql-ws` (graphql-transport-ws) end to end, through the CLI (`runner.cli.main`,
in-process), against two servers: Node's graphql-ws, the protocol's reference implementation
(tests/peers/graphql/server.js, started as `node server.js 0`), and the built-in server's
`/graphql` endpoint (graphql-core). Both on loopback, port 0.

Each test checks what the console shows: the handshake and its refusal (close 4403), the
server's ping answered with a pong, `call` (a query, a subscription's `next` payloads until
`complete`, an `error`) and its timeout, a malformed frame, and -v's frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.cli import ExitCode
from runner.protocols.graphql_ws import GraphqlWs, GraphqlWsOptions
from runner.server.running import TestServer
from tests.protocols.peers_graphql import graphql_peer
from tests.protocols.running import comparable, readme_section, run


@dataclass(frozen=True)
class Target:
    """A server under test: its URL, where it pings (its URL and init), and its field that
    sends a frame that is not JSON."""

    url: str
    ping_url: str
    ping_init: str
    malformed: str


@pytest.fixture(scope="module")
def builtin() -> Iterator[TestServer]:
    server = TestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def node_peer() -> Iterator[str]:
    with graphql_peer() as url:
        yield url


@pytest.fixture(params=["graphql-ws (node)", "built-in"])
def target(request: pytest.FixtureRequest, builtin: TestServer, node_peer: str) -> Target:
    if request.param == "built-in":
        url = builtin.url + "/graphql"
        return Target(url, url + "?ping=100", "{token: secret}", "malformed")
    return Target(node_peer, node_peer, "{token: secret, ping: true}", "garbage")


def test_queries_subscriptions_errors_and_messages_as_they_are(
    tmp_path: Path, target: Target
) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: graphql-ws basics
steps:
  - connect:
      url: "{target.url}"
      protocol: graphql-ws
      protocol_options: {{init: {{token: secret}}}}
  - call:
      query: "query Add($a: Int!) {{ add(a: $a, b: 2) }}"
      variables: {{a: 40}}
      operationName: Add
      expect: {{json: {{next: [{{data: {{add: 42}}}}], errors: null}}}}
      save: {{sum: "$.next[0].data.add"}}
  - call:
      query: "subscription {{ count(to: 3) }}"
      expect:
        json: {{next: [{{data: {{count: 1}}}}, {{data: {{count: 2}}}}, {{data: {{count: 3}}}}]}}
  - call:
      query: "{{ nope }}"
      expect: {{json: {{next: [], errors: [{{message: "{{{{regex:nope}}}}"}}]}}}}
  - send:
      json: {{id: mine, type: subscribe, payload: {{query: "{{ hello(name: \\"${{sum}}\\") }}"}}}}
  - expect: {{json: {{id: mine, type: next, payload: {{data: {{hello: hello 42}}}}}}}}
  - expect: {{json: {{id: mine, type: complete}}}}
""",
    )
    assert code == ExitCode.OK, output
    assert "✓ PASSED graphql-ws basics" in output
    assert sum(e["type"] == "step_ended" for e in report["events"]) == 7


def test_a_refused_connection_init_fails_connect_with_the_close_code_and_reason(
    tmp_path: Path, target: Target
) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: graphql-ws refused
steps:
  - connect:
      url: "{target.url}"
      protocol: graphql-ws
      protocol_options: {{init: {{token: no}}}}
  - call: {{query: "{{ hello }}"}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert (
        "the graphql-ws handshake on 'default' failed: the connection closed during the "
        "graphql-ws handshake (4403 Forbidden)"
    ) in output
    assert "(step 1, connect on default)" in output
    assert '→ sent      {"type":"connection_init","payload":{"token":"no"}}' in output


def test_the_servers_ping_is_answered_with_a_pong(tmp_path: Path, target: Target) -> None:
    text = f"""
name: graphql-ws ping
steps:
  - connect:
      url: "{target.ping_url}"
      protocol: graphql-ws
      protocol_options: {{init: {target.ping_init}}}
  - sleep: 500ms
  - call:
      query: "{{ pongs }}"
      expect:
        json_schema:
          properties:
            next:
              items: {{properties: {{data: {{properties: {{pongs: {{minimum: 1}}}}}}}}}}
              minItems: 1
"""
    code, output, _ = run(tmp_path, text, "-v")
    assert code == ExitCode.OK, output
    assert '← received  {"type":"ping"}' in output
    assert '→ sent      {"type":"pong"}' in output
    code, output, _ = run(tmp_path, text)  # without -v, the heartbeat is not shown
    assert code == ExitCode.OK, output
    for hidden in ('{"type":"ping"}', '{"type": "ping"}', '{"type":"pong"}', '{"type": "pong"}'):
        assert hidden not in output, output


def test_a_call_with_no_complete_in_time_fails_with_what_it_sent(
    tmp_path: Path, target: Target
) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: graphql-ws call timeout
steps:
  - connect:
      url: "{target.url}"
      protocol: graphql-ws
      protocol_options: {{init: {{token: secret}}}}
  - call: {{query: "{{ sleep(ms: 3000) }}", timeout: 300ms}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert re.search(
        r'no reply to the graphql-ws call \{"query":"\{ sleep\(ms: 3000\) \}"\} on \'default\' '
        r"within \d+\.\d{3}s; arrived meanwhile: nothing\n",
        output,
    ), output
    assert re.search(r"expected: the (graphql-ws )?reply call-1\n", output), output
    assert "(step 2, call on default)" in output


def test_a_malformed_frame_fails_the_waiting_step_with_the_frame(
    tmp_path: Path, target: Target
) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: graphql-ws malformed
steps:
  - connect:
      url: "{target.url}"
      protocol: graphql-ws
      protocol_options: {{init: {{token: secret}}}}
  - call: {{query: "{{ {target.malformed} }}"}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert (
        "a malformed frame arrived on 'default' while the graphql-ws call waited: graphql-ws: "
        "not JSON:"
    ) in output
    assert "the frame: '{this is not JSON'" in output
    assert "(step 2, call on default)" in output


def test_verbose_shows_the_frames(tmp_path: Path, target: Target) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: graphql-ws -v
steps:
  - connect:
      url: "{target.url}"
      protocol: graphql-ws
      protocol_options: {{init: {{token: secret}}}}
  - call: {{query: "subscription {{ count(to: 2) }}"}}
""",
        "-v",
    )
    assert code == ExitCode.OK, output
    assert "(101, graphql-transport-ws)" in output
    assert '→ sent      {"type":"connection_init","payload":{"token":"secret"}}' in output
    assert '← received  {"type":"connection_ack"}' in output
    sent = '{"id":"call-1","type":"subscribe","payload":{"query":"subscription { count(to: 2) }"}}'
    assert f"→ sent      {sent}" in output
    assert '← received  {"id":"call-1","type":"next","payload":{"data":{"count":2}}}' in output
    assert '← received  {"id":"call-1","type":"complete"}' in output


def test_the_codec_on_its_own() -> None:
    """What a scenario cannot reach easily: an error before the ack, messages it rejects."""
    ws = GraphqlWs(GraphqlWsOptions.model_validate({}))
    assert ws.opening() == ['{"type":"connection_init"}']
    [error] = ws.decode('{"type":"error","id":"x","payload":[]}')
    assert error.handshake
    with pytest.raises(Exception, match="not connection_ack"):
        ws.handshake_done(error)
    with pytest.raises(Exception, match="type one of"):
        ws.decode('{"kind":"next"}')
    with pytest.raises(Exception, match="text, found binary"):
        ws.decode(b"{}")
    with pytest.raises(ValueError, match='with a "type"'):
        ws.encode({"id": "1"})


def test_the_readme_example_runs_and_shows_what_the_readme_says(
    tmp_path: Path, builtin: TestServer
) -> None:
    example, shown = readme_section("#### GraphQL over WebSocket (`protocol: graphql-ws`)")
    code, output, _ = run(tmp_path, example, "-v", "--var", f"base_url={builtin.url}")
    assert code == ExitCode.OK, output
    printed = comparable(output)
    for line in comparable(shown):
        assert line in printed, line


def test_a_subscription_without_end_fails_its_call_instead_of_growing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runner.protocols import graphql_ws
    from runner.protocols.base import ProtocolFailure

    monkeypatch.setattr(graphql_ws, "MAX_NEXT_PAYLOADS", 3)
    ws = GraphqlWs(GraphqlWsOptions.model_validate({}))
    ws.decode('{"type":"connection_ack"}')
    _, key = ws.call({"query": "subscription { count(to: 9) }"}, 1)
    for n in range(3):
        assert ws.decode(f'{{"type":"next","id":"{key}","payload":{{"n":{n}}}}}') == []
    with pytest.raises(ProtocolFailure, match="more than 3 next payloads without a complete"):
        ws.decode(f'{{"type":"next","id":"{key}","payload":{{"n":3}}}}')
    [late] = ws.decode(f'{{"type":"next","id":"{key}","payload":{{"n":4}}}}')  # the call is over
    assert late.reply_to is None
