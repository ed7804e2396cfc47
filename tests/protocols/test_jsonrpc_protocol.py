"""`protocol: json-rpc` (JSON-RPC 2.0) end to end, through the CLI (`runner.cli.main`,
in-process), against two servers on loopback: Node's rpc-websockets, an independent JSON-RPC
2.0 server over WebSocket (tests/peers/jsonrpc), and the built-in server's `/rpc`.

The failures' output is checked: a call's timeout (the protocol, the request, what arrived
meanwhile), a malformed frame (the cause and the frame, at once), and -v's frame ⇒ envelope;
the JSON report keeps both. The codec's own rules are checked sans-I/O at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.cli import ExitCode
from runner.protocols.base import Incoming, MalformedFrame
from runner.protocols.jsonrpc import JsonRpc, JsonRpcOptions
from runner.server.running import TestServer
from tests.protocols.peers_jsonrpc import jsonrpc_peer
from tests.protocols.running import run


@pytest.fixture(scope="module")
def builtin() -> Iterator[TestServer]:
    server = TestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with jsonrpc_peer() as url:
        yield url


def _steps(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["scenarios"][0]["steps"]  # type: ignore[no-any-return]


# -- against rpc-websockets (independent) ----------------------------------------------------


def test_calls_errors_and_latency_against_rpc_websockets(tmp_path: Path, peer: str) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: rpc-websockets
timeout: 3s
steps:
  - connect: {{url: "{peer}", protocol: json-rpc, proxy: no-proxy}}
  - call: {{method: sum, params: [1, 2], expect: {{json: {{jsonrpc: "2.0", result: 3}}}}}}
  - call: {{method: slow, params: [50, late], save: {{got: $.result}}}}
  - call: {{method: sum, params: ["${{got}}", "!"], expect: {{json: {{result: late!}}}}}}
  - call: {{method: nope, expect: {{json: {{error: {{code: -32601}}}}}}}}
""",
    )
    assert code == ExitCode.OK, output
    assert "→ sent      {" in output and '"method": "sum"' in output
    latencies = [step["latency"] for step in _steps(report) if step["kind"] == "call"]
    assert len(latencies) == 4 and all(isinstance(x, float) for x in latencies)
    assert latencies[1] >= 0.045, latencies  # slow answered after 50 ms: from request to reply


def test_a_frame_without_jsonrpc_is_malformed_unless_strict_is_off(
    tmp_path: Path, peer: str
) -> None:
    scenario = f"""
name: rpc-websockets events
timeout: 2s
steps:
  - connect: {{url: "{peer}", protocol: json-rpc, protocol_options: {{strict: STRICT}}}}
  - call: {{method: rpc.on, params: [tick], expect: {{json: {{result: {{tick: ok}}}}}}}}
  - call: {{method: tick, expect: {{json: {{result: ok}}}}}}
  - expect: {{json: {{notification: tick, params: {{n: 1}}}}}}
"""
    code, output, _ = run(tmp_path, scenario.replace("STRICT", "false"))
    assert code == ExitCode.OK, output
    start = time.monotonic()
    code, output, _ = run(tmp_path, scenario.replace("STRICT", "true"))
    assert code == ExitCode.FAILED, output
    assert time.monotonic() - start < 1.5  # at once, not at the expect's 2 s timeout
    assert (
        'a malformed frame arrived on \'default\': json-rpc: no "jsonrpc": "2.0" in the ' in output
    )
    assert """the frame: '{"notification":"tick","params":{"n":1}}'""" in output


# -- against the built-in server's /rpc -------------------------------------------------------


def test_the_example_scenario_passes_and_notifications_reach_expect(
    tmp_path: Path, builtin: TestServer
) -> None:
    example = Path(__file__).resolve().parents[2] / "scenarios" / "24-json-rpc.yaml"
    text = example.read_text(encoding="utf-8").replace("${base_url}", builtin.url)
    code, output, report = run(tmp_path, text.replace("${room}", "lobby"))
    assert code == ExitCode.OK, output
    kinds = [step["kind"] for step in _steps(report)]
    assert kinds.count("call") == 4 and kinds.count("expect") == 2
    assert '"method": "notification"' in output


def test_calls_in_a_loop_get_fresh_ids(tmp_path: Path, builtin: TestServer) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: loop
steps:
  - connect: {{url: "{builtin.url}/rpc", protocol: json-rpc}}
  - repeat:
      count: 3
      as: i
      steps:
        - call:
            method: add
            params: ["${{i}}", 10]
            expect: {{json: {{result: "{{{{number}}}}"}}}}
""",
    )
    assert code == ExitCode.OK, output
    sent = [json.loads(e["data"]) for e in report["events"] if e["type"] == "frame_sent"]
    assert [(m["id"], m["params"]) for m in sent] == [(1, [1, 10]), (2, [2, 10]), (3, [3, 10])]


def test_a_call_timeout_names_the_protocol_the_request_and_what_arrived(
    tmp_path: Path, builtin: TestServer
) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: call timeout
steps:
  - connect: {{url: "{builtin.url}/rpc", protocol: json-rpc}}
  - call: {{method: subscribe, params: {{topic: t, count: 2, interval: 10}}}}
  - call: {{method: sleep, params: [1000], timeout: 200ms}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert (
        'no reply to the json-rpc call {"method":"sleep","params":[1000]} on \'default\' '
        "within 0.2" in output
    )
    assert 'arrived meanwhile: {"jsonrpc":"2.0","method":"notification","params":{' in output
    assert "expected: the json-rpc reply 2" in output  # the id of the connection's 2nd call


def test_a_malformed_frame_fails_the_waiting_step_at_once(
    tmp_path: Path, builtin: TestServer
) -> None:
    # A request without "jsonrpc" gets the built-in server's older shape: no "jsonrpc" member.
    start = time.monotonic()
    code, output, _ = run(
        tmp_path,
        f"""
name: malformed
steps:
  - connect: {{url: "{builtin.url}/rpc", protocol: json-rpc}}
  - send: '{{"id": 9, "method": "echo", "params": "x"}}'
  - expect: {{json: {{id: 9}}, timeout: 5s}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert time.monotonic() - start < 3  # not the expect's 5 s
    assert (
        'a malformed frame arrived on \'default\': json-rpc: no "jsonrpc": "2.0" in the '
        """message; the frame: '{"id":9,"result":"x"}'""" in output
    )


def test_verbose_shows_frame_and_envelope_and_the_report_keeps_both(
    tmp_path: Path, builtin: TestServer
) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: verbose
steps:
  - connect: {{url: "{builtin.url}/rpc", protocol: json-rpc}}
  - send: {{json: {{method: echo, params: [1], id: 40}}}}
  - expect: {{json: {{id: 40, result: [1]}}}}
""",
        "-v",
    )
    assert code == ExitCode.OK, output
    sent = '{"jsonrpc": "2.0", "method": "echo", "params": [1], "id": 40}'
    assert f"→ sent      {sent} ⇒ " + '{"method": "echo", "params": [1], "id": 40}' in output
    assert '← received  {"jsonrpc":"2.0","id":40,"result":[1]} ⇒ {"jsonrpc": "2.0"' in output
    frames = [e for e in report["events"] if e["type"] == "frame_received"]
    assert frames[0]["data"] == '{"jsonrpc":"2.0","id":40,"result":[1]}'
    assert frames[0]["envelopes"] == [{"jsonrpc": "2.0", "id": 40, "result": [1]}]


def test_raw_text_stays_raw_on_a_protocol_connection(tmp_path: Path, builtin: TestServer) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: raw
steps:
  - connect: {{url: "{builtin.url}/rpc", protocol: json-rpc}}
  - send: '{{"jsonrpc": "2.0", "method": "add", "params": [2, 2], "id": "x"}}'
  - expect: {{json: {{id: x, result: 4}}}}
""",
    )
    assert code == ExitCode.OK, output
    sent = [e for e in report["events"] if e["type"] == "frame_sent"]
    assert sent[0]["data"] == '{"jsonrpc": "2.0", "method": "add", "params": [2, 2], "id": "x"}'
    assert sent[0]["envelopes"] is None  # written as text: sent as it is


# -- the codec, sans-I/O -----------------------------------------------------------------------


def _codec(**options: Any) -> JsonRpc:
    return JsonRpc(JsonRpcOptions.model_validate(options))


def test_the_codec_correlates_responses_by_id_and_keeps_notifications() -> None:
    codec = _codec()
    frames, key = codec.call({"method": "sum", "params": [1, 2]}, 7)
    assert json.loads(frames[0]) == {"jsonrpc": "2.0", "method": "sum", "params": [1, 2], "id": 7}
    assert codec.decode('{"jsonrpc": "2.0", "id": 7, "result": 3}')[0].reply_to == key
    assert codec.decode('{"jsonrpc": "2.0", "id": "7", "result": 3}')[0].reply_to != key
    note = codec.decode('{"jsonrpc": "2.0", "method": "tick"}')
    assert note == [Incoming({"jsonrpc": "2.0", "method": "tick"})]
    batch = codec.decode(
        '[{"jsonrpc": "2.0", "id": 1, "result": 1}, {"jsonrpc": "2.0", "method": "m"}]'
    )
    assert [item.reply_to for item in batch] == ["1", None]
    assert codec.encode({"method": "log"}) == ['{"jsonrpc": "2.0", "method": "log"}']


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ("not json", "not JSON"),
        (b"\x00", "this frame is binary"),
        ("[]", "an empty batch"),
        ("3", "is an object"),
        ('{"id": 1, "result": 2}', 'no "jsonrpc": "2.0"'),
        ('{"jsonrpc": "2.0", "id": 1}', "neither a request"),
    ],
)
def test_the_codec_refuses_what_is_not_json_rpc(frame: str | bytes, why: str) -> None:
    with pytest.raises(MalformedFrame, match=why):
        _codec().decode(frame)
    if why == 'no "jsonrpc": "2.0"':
        assert _codec(strict=False).decode(frame)[0].reply_to == "1"


def test_the_readme_example_runs_against_the_builtin_server(
    tmp_path: Path, builtin: TestServer
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\nname: json-rpc\n", 1)[1].split("```", 1)[0]
    code, output, _ = run(tmp_path, "name: json-rpc\n" + block, "--var", f"base_url={builtin.url}")
    assert code == ExitCode.OK, output
    assert "6/6 steps" in output


def test_the_builtin_rpc_answers_json_rpc_2_0_in_2_0(builtin: TestServer) -> None:
    from websockets.sync.client import connect

    with connect(builtin.url + "/rpc", open_timeout=5) as ws:
        ws.send('{"jsonrpc": "2.0", "method": "echo", "params": ["quiet"]}')  # a notification
        ws.send('{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}')
        assert json.loads(ws.recv(timeout=5)) == {"jsonrpc": "2.0", "id": 1, "result": 3}
        ws.send('{"jsonrpc": "2.0", "method": "subscribe", "params": {"count": 1}, "id": 2}')
        assert json.loads(ws.recv(timeout=5))["result"]["subscription"] == 1
        assert json.loads(ws.recv(timeout=5)) == {
            "jsonrpc": "2.0",
            "method": "notification",
            "params": {"subscription": 1, "topic": "news", "seq": 1},
        }
        ws.send('{"id": 3, "method": "add", "params": [1, 1]}')  # no "jsonrpc": the old shape
        assert json.loads(ws.recv(timeout=5)) == {"id": 3, "result": 2}
