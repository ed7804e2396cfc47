"""The wire size of each SENT message, through the CLI (issue 17: "the transcript and the JSON
report show, per frame, the wire size and the message size").

A raw peer negotiates permessage-deflate, records the payload length of every data frame the
client wrote and echoes its message back uncompressed: the JSON report's `frame_sent.wire_size`
must be what the server received, `traffic` their sum, and the console and the failure's
transcript must show message and wire size.
"""

from __future__ import annotations

import json
import threading
import zlib
from io import StringIO
from pathlib import Path

import jsonschema
from rich.console import Console

from runner.cli import ExitCode, main
from runner.report.report_schema import report_json_schema
from runner.server import TestServer
from tests.rawpeer import OP_CLOSE, OP_TEXT, RawPeer
from tests.support import timeout

TAIL = b"\x00\x00\xff\xff"
MESSAGE = '{"text": "' + "hello wire, " * 50 + '"}'

SCENARIO = """
name: sizes
steps:
  - connect: {url: "${url}", compression: deflate, expect_extensions: [permessage-deflate]}
  - send: {text: '%s'}
  - expect: {text: '%s'}
  - send: {text: '%s'}
  - expect: {text: '%s'}
  - expect: {text: never, timeout: 300ms}
""" % ((MESSAGE,) * 4)


def echo_peer(peer: RawPeer, received: list[int]) -> None:
    """Negotiate permessage-deflate, then echo every text message uncompressed (RSV1 clear),
    recording the payload bytes each of the client's data frames carried on the wire."""
    conn = peer.accept(handshake=False)
    conn.read_request(timeout())
    conn.respond(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
    decoder = zlib.decompressobj(wbits=-15)  # context takeover: one decoder for the connection
    try:
        while True:
            frame = conn.recv_frame()
            if frame.opcode == OP_CLOSE:
                conn.send_close(1000)
                return
            received.append(len(frame.payload))
            assert frame.rsv == 4, "a compressed message has RSV1 set"
            conn.send_frame(OP_TEXT, decoder.decompress(frame.payload + TAIL))
    finally:
        conn.close()


def run(tmp_path: Path, *argv: str) -> tuple[int, str, list[int], dict[str, object]]:
    path, report = tmp_path / "sizes.yaml", tmp_path / "report.json"
    path.write_text(SCENARIO, encoding="utf-8")
    received: list[int] = []
    with RawPeer() as peer:
        server = threading.Thread(target=echo_peer, args=(peer, received), daemon=True)
        server.start()
        console = Console(file=StringIO(), width=400, color_system=None)
        argv = (str(path), "--var", f"url={peer.url}", "--json-report", str(report), *argv)
        code = main(list(argv), console=console)
        server.join(timeout())
    assert not server.is_alive()
    return code, console.file.getvalue(), received, json.loads(report.read_text("utf-8"))  # type: ignore[attr-defined]


def test_sent_wire_sizes_are_what_the_server_received(tmp_path: Path) -> None:
    code, out, received, report = run(tmp_path, "-v")
    assert code == ExitCode.FAILED  # the last expect fails on purpose: its transcript is shown
    jsonschema.validate(report, report_json_schema())
    events = report["events"]
    assert isinstance(events, list)
    size = len(MESSAGE.encode())
    sent = [e for e in events if e["type"] == "frame_sent"]
    assert [e["wire_size"] for e in sent] == received
    assert len(received) == 2 and 0 < received[1] < received[0] < size // 4  # context kept
    closed = next(e for e in events if e["type"] == "connection_closed")
    assert closed["traffic"]["sent"] == 2 * size
    assert closed["traffic"]["sent_wire"] == sum(received)
    kinds = [e["type"] for e in events if e["type"] in ("frame_sent", "frame_received")]
    assert kinds == ["frame_sent", "frame_received"] * 2  # each send logged before its echo
    # The failure's transcript (JSON and console) has each sent message's sizes.
    scenario = report["scenarios"][0]  # type: ignore[index]
    recent = [e for e in scenario["failure"]["recent"] if e["event"] == "sent"]
    assert [e["wire_size"] for e in recent] == received
    notes = [f"[{size:,} → {wire:,} B on the wire, {wire / size:.0%}]" for wire in received]
    live = [line for line in out.splitlines() if "default  → sent" in line]
    assert live == [
        f"{line[: line.index('→')]}→ sent      {MESSAGE} {n}"
        for line, n in zip(live, notes, strict=True)
    ]
    transcript = [line for line in out.splitlines() if "default → sent" in line]
    assert [line.endswith(f'"}} {n}') for line, n in zip(transcript, notes, strict=True)] == [
        True,
        True,
    ]


def test_uncompressed_sends_show_no_ratio(tmp_path: Path) -> None:
    path, report = tmp_path / "plain.yaml", tmp_path / "report.json"
    path.write_text(
        'name: plain\nsteps:\n  - connect: {url: "${url}/echo"}\n'
        "  - send: {text: hello}\n  - expect: {text: hello}\n",
        encoding="utf-8",
    )
    with TestServer(port=0) as server:
        console = Console(file=StringIO(), width=200, color_system=None)
        argv = [str(path), "--var", f"url={server.url}", "--json-report", str(report), "-v"]
        assert main(argv, console=console) == ExitCode.OK
    events = json.loads(report.read_text("utf-8"))["events"]
    sent = [e for e in events if e["type"] == "frame_sent"]
    assert [e["wire_size"] for e in sent] == [5]  # as sent: its own size
    assert "on the wire" not in console.file.getvalue()  # type: ignore[attr-defined]
