"""`wsrun import`: HAR files (one recorded by a real Chromium) become scenarios that pass."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from runner.cli import main
from runner.server import TestServer
from tests.recording.chrome_har import record_har, write_har

# Runs in the page: a session with the built-in server's endpoints, answering the pinger's
# heartbeats as a client must. Resolves once every socket is done.
SCRIPT = """(async () => {
  const base = "%s";
  const open = (path, protocols) => new Promise((ok, fail) => {
    const ws = new WebSocket(base + path, protocols);
    ws.binaryType = "arraybuffer";
    ws.inbox = []; ws.waiting = [];
    ws.onmessage = (e) => { const w = ws.waiting.shift(); w ? w(e.data) : ws.inbox.push(e.data); };
    ws.onopen = () => ok(ws); ws.onerror = () => fail(new Error("cannot open " + path));
  });
  const next = (ws) => ws.inbox.length ? Promise.resolve(ws.inbox.shift())
                                       : new Promise((ok) => ws.waiting.push(ok));
  const rpc = await open("/rpc");
  rpc.send(JSON.stringify({id: 1, method: "add", params: [1, 2]}));
  await next(rpc);
  const chat = await open("/chat/lobby");
  const join = JSON.parse(await next(chat));
  chat.send(JSON.stringify({type: "say", text: "hello from " + join.user}));
  await next(chat);
  const echo = await open("/echo");
  echo.send(new Uint8Array([0, 255, 16]));
  await next(echo);
  echo.send("plain text");
  await next(echo);
  const sub = await open("/subprotocol", ["chat.v2", "chat.v1"]);
  await next(sub);
  const pinger = await open("/pinger?count=3&interval=10");
  for (;;) {
    const text = await next(pinger);
    if (text === "2") { pinger.send("3"); continue; }
    const m = JSON.parse(text);
    if (m.type === "ping") { pinger.send(JSON.stringify({type: "pong", id: m.id})); continue; }
    break;
  }
  rpc.send(JSON.stringify({id: 2, method: "upper", params: "done"}));
  await next(rpc);
  for (const ws of [rpc, chat, echo, sub, pinger]) ws.close(1000);
  return "ok";
})()"""


def test_a_har_recorded_by_chromium_imports_into_a_scenario_that_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestServer() as server:
        port = server.port
        har = write_har(record_har(tmp_path / "profile", SCRIPT % server.url), tmp_path / "s.har")
    messages = [
        m for e in json.loads(har.read_text())["log"]["entries"] for m in e["_webSocketMessages"]
    ]
    assert {m["opcode"] for m in messages} == {1, 2}  # the browser recorded text and binary
    out = tmp_path / "imported.yaml"
    assert main(["import", str(har), "-o", str(out), "--no-color"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 5 connections" in printed
    text = out.read_text()
    scenario = yaml.safe_load(text)
    steps = scenario["steps"]
    assert [s["connect"]["conn"] for s in steps if "connect" in s] == [
        "rpc", "chat", "echo", "subprotocol", "pinger"
    ]  # fmt: skip
    sub = next(
        s["connect"] for s in steps if "connect" in s and s["connect"]["conn"] == "subprotocol"
    )
    assert sub["subprotocols"] == ["chat.v2", "chat.v1"]
    assert "User-Agent" not in text and "Sec-WebSocket-Key" not in text
    # the guest name the server chose is saved and sent back as a reference
    join = next(s["expect"] for s in steps if "expect" in s and s["expect"]["conn"] == "chat")
    assert join["save"] == {"user": "$.user"}
    say = next(s["send"] for s in steps if "send" in s and s["send"]["conn"] == "chat")
    assert say["json"] == {"type": "say", "text": "hello from ${user}"}
    # the server's message id is a placeholder; the binary echo is base64
    assert {"binary": {"base64": base64.b64encode(b"\x00\xff\x10").decode()}, "conn": "echo"} in [
        s.get("expect") for s in steps
    ]
    # the pinger's heartbeats became reply rules, and their frames are no steps
    assert scenario["reply"] == [
        {"when": {"text": "2"}, "send": {"text": "3"}},
        {"when": {"json": {"type": "ping"}, "save": {"hb_id": "$.id"}},
         "send": {"json": {"type": "pong", "id": "${hb_id}"}}},
    ]  # fmt: skip
    assert not [s for s in steps if s.get("send", {}).get("text") == "3"]
    said = [s["expect"] for s in steps if s.get("expect", {}).get("json", {}).get("type") == "said"]
    assert said[0]["json"]["from"] == "${user}"  # a later message repeats a saved value
    assert text.count("  # 20") == len(steps)  # a comment with its time before every step
    assert main(["validate", str(out)]) == 0
    with TestServer(port=port):  # a fresh server where the recorded one was
        assert main(["run", str(out), "--no-color"]) == 0, capsys.readouterr().out
