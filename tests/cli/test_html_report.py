"""The HTML report end to end: ``--html-report`` and ``wsrun report``, against real servers.

What a browser makes of the page is checked in ``tests/browser``; here, what the page holds:
every scenario (failures first and open), steps, failure block, timeline, latency charts, the
services; that hostile payloads stay text; that long transcripts are cut (and the page says
so) while the JSON report keeps everything; that secrets are masked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

from rich.console import Console
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main
from runner.report.html_report import TIMELINE_ROWS_PASSED, _row
from tests.integration.executor import peers
from tests.support import echo, timeout, url_of, websockets_server

PASSING = """
name: echo works
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, json: {type: hello, n: 1}}
  - expect: {conn: a, json: {type: hello}}
  - close: {conn: a}
"""

FAILING = """
name: echo mismatch
timeout: 300ms
steps:
  - connect: {conn: a, url: "${url}"}
  - connect: {conn: b, url: "${url}"}
  - send: {conn: a, json: {type: said, text: hi}}
  - expect: {conn: a, json: {type: said, text: hello}}
"""

CHATTY = """
name: chatty
steps:
  - connect: {conn: a, url: "${url}"}
  - repeat:
      count: 300
      as: i
      steps:
        - send: {conn: a, text: "message ${i}"}
        - expect: {conn: a, text: "message ${i}"}
"""


def cli(*argv: str) -> tuple[int, str]:
    """Run `wsrun argv` in-process; return (exit code, output with lines joined as written)."""
    console = Console(file=StringIO(), width=1000, color_system=None)
    code = main(list(argv), console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def run_with_reports(folder: Path, url: str, *extra: str) -> tuple[int, str, Path, Path]:
    """Run the scenarios of `folder`; return (code, console, JSON report, HTML report)."""
    json_path, html_path = folder / "run.json", folder / "run.html"
    code, out = cli(
        str(folder), "--var", f"url={url}", "--json-report", str(json_path),
        "--html-report", str(html_path), *extra,
    )  # fmt: skip
    return code, out, json_path, html_path


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    tags.close()
    return tags


#: Every element the page may use: anything else came from a payload.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "span",
    "nav", "a", "ul", "li", "section", "details", "summary", "i", "b", "code", "table", "tr",
    "th", "td", "div", "dl", "dt", "dd", "pre", "footer", "svg", "defs", "path", "circle",
    "rect", "text", "g", "use", "small",
}  # fmt: skip


def test_html_report_and_report_command_render_the_same_page(tmp_path: Path) -> None:
    folder = write(tmp_path / "s", a_pass=PASSING, b_fail=FAILING)
    with websockets_server(echo) as server:
        code, out, json_path, html_path = run_with_reports(folder, url_of(server))
    assert code == ExitCode.FAILED, out
    page = html_path.read_text(encoding="utf-8")

    code, out = cli("report", str(json_path), "-o", str(tmp_path / "again.html"))
    assert code == ExitCode.OK, out
    assert re.fullmatch(r"wrote .*again\.html \(2 scenarios, \d+ KiB\)\n", out), out
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == page

    code, out = cli("report", str(json_path))  # default: the report's name with .html
    assert code == ExitCode.OK and (folder / "run.html").read_bytes() == page.encode()


def test_the_page_shows_summary_failures_first_steps_timeline_and_charts(tmp_path: Path) -> None:
    folder = write(tmp_path, a_pass=PASSING, b_fail=FAILING)
    with websockets_server(echo) as server:
        code, out, _, html_path = run_with_reports(folder, url_of(server))
    assert code == ExitCode.FAILED, out
    page = html_path.read_text(encoding="utf-8")
    # the summary, with a link to the failure
    assert '<span class="badge failed">FAILED</span>' in page
    assert (
        '<span class="badge failed">1 failed</span> <span class="badge passed">1 passed</span>'
        in page
    )
    assert '<li><a href="#s0">echo mismatch</a>' in page
    # failures first and open, passes collapsed
    scenarios = re.findall(r'<details class="sc (\w+)" id="s(\d+)"( open)?>', page)
    assert scenarios == [("failed", "0", " open"), ("passed", "1", "")]
    failed = page[page.index('id="s0"') : page.index('id="s1"')]
    # steps, with their results
    assert "<tr class=failed><td>4<td>expect<td>8:5<td>a<td>failed<td>" in failed
    # the failure block
    assert re.search(r"<p class=\"msg\">no message on 'a' matched within 0\.3\d\ds</p>", failed)
    assert "diff (expected → closest):" in failed and '<span class="add">+  "text": "hi",' in failed
    assert "last frames on a:" in failed
    # the timeline: a lane per connection, arrows both ways, the expect marked where it failed
    timeline = failed[failed.index('<svg class="timeline"') :]
    assert re.search(
        r'<text x="\d+" y="14" class="lane">a</text><text x="\d+" y="14" class="lane">b', timeline
    )
    lanes = re.findall(r'<g transform="translate\((\d+)\)">((?:<path [^>]+>)+)</g>', timeline)
    assert len(lanes) == 2
    glyphs = re.findall(r'class="g-(\w+)"', lanes[0][1])  # on a: sent, received, failed
    assert sorted(glyphs) == ["close", "failed", "open", "received", "sent"]
    assert lanes[0][1].count("h46m-8-4l8 4-8 4") == 1  # one message sent on a
    assert "✗ step 4 expect failed: no message on &#x27;a&#x27;" not in timeline  # not over-escaped
    assert re.search(
        r"✗ step 4 expect failed: no message on 'a' matched within 0\.3\d\ds<", timeline
    )
    assert 'class="un">{"type":"said","text":"hi"}  (unexpected)</text>' in timeline
    passed = page[page.index('id="s1"') :]
    assert "✓ step 3 expect matched in" in passed
    # latency charts and the step percentiles
    latency = page[page.index('<section id="latency">') :]
    assert 'aria-label="histogram of expect latencies"' in latency
    assert 'aria-label="p50, p95 and p99 latency per step"' in latency
    assert re.search(r"a_pass\.yaml:6:5 expect, n=1</text>", latency)
    assert '<p class="cut">' not in page  # nothing had to be cut
    # self-contained: no script, no request, all from the page itself
    tags = parsed(page)
    assert {tag for tag, _ in tags.tags} <= ALLOWED_TAGS
    links = [value for _, attrs in tags.tags for name, value in attrs if name in ("src", "href")]
    assert links and all(str(link).startswith("#") for link in links)
    assert "default-src 'none'" in page


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "</text></svg><iframe srcdoc='x'></iframe>",
    "&lt;already escaped&gt; & ]]> <!-- -->",
    "controls \x00\x07\x1b[31m\x7f\u0085 end",
]


def hostile(conn: ServerConnection) -> None:
    """Answer the first message with every hostile text, and a binary frame."""
    conn.recv()
    for text in HOSTILE:
        conn.send(text)
    conn.send(b"\x00<script>\xff")
    for _ in conn:
        pass


def test_hostile_payloads_and_names_stay_text(tmp_path: Path) -> None:
    folder = write(tmp_path, evil="""
name: "<b>bold</b> & <script>alert('name')</script>"
timeout: 300ms
steps:
  - connect: {conn: "<i>x</i>", url: "${url}"}
  - send: {conn: "<i>x</i>", text: go}
  - expect: {conn: "<i>x</i>", text: never}
""")  # fmt: skip
    with websockets_server(hostile) as server:
        code, out, _, html_path = run_with_reports(folder, url_of(server))
    assert code == ExitCode.FAILED, out
    page = html_path.read_text(encoding="utf-8")
    tags = parsed(page)
    assert {tag for tag, _ in tags.tags} <= ALLOWED_TAGS  # no payload became an element
    assert not [name for _, attrs in tags.tags for name, _ in attrs if name.startswith("on")]
    text = "".join(tags.text)
    assert "<b>bold</b> & <script>alert('name')</script>" in text  # shown as it was written
    assert "<script>alert(1)</script>" in text and '"><img src=x onerror=alert(2)>' in text
    assert "&lt;already escaped&gt; & ]]> <!-- -->" in text
    assert "controls \\x00\\x07\\x1b[31m\\x7f\\x85 end" in text  # controls shown, not passed on
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", page)
    assert "<10 bytes> 00 3c 73 63 72 69 70 74 3e ff" in text


def test_a_long_transcript_is_cut_in_the_page_and_whole_in_the_json_report(
    tmp_path: Path,
) -> None:
    folder = write(tmp_path, chatty=CHATTY)
    with websockets_server(echo) as server:
        code, out, json_path, html_path = run_with_reports(folder, url_of(server))
    assert code == ExitCode.OK, out
    report = json.loads(json_path.read_text(encoding="utf-8"))
    frames = [e for e in report["events"] if e["type"] in ("frame_sent", "frame_received")]
    assert len(frames) == 600  # the JSON report holds all
    page = html_path.read_text(encoding="utf-8")
    timeline = page[
        page.index('<svg class="timeline"') : page.index(
            "</svg>", page.index('<svg class="timeline"')
        )
    ]
    rows = re.findall(r'<text y="\d+" class="(?:tx|rx|un|ok|no|in)">', timeline)
    assert len(rows) == TIMELINE_ROWS_PASSED
    left_out = 1 + 600 + 300 + 1 - (TIMELINE_ROWS_PASSED - 1)  # open, frames, expects, close
    assert f"… {left_out} events left out here (the JSON report holds them all)" in timeline
    assert ">message 1</text>" in timeline and ">message 300</text>" in timeline
    assert ">message 150</text>" not in timeline
    assert "Cut to keep the page small: 1 timeline shortened" in page


def test_secrets_are_masked_in_the_html_report(tmp_path: Path) -> None:
    folder = write(tmp_path, secret="""
name: uses a token
timeout: 300ms
steps:
  - connect: {url: "${url}?token=${token}"}
  - send: {json: {token: "${token}"}}
  - expect: {json: {token: "not ${token}"}}
""")  # fmt: skip
    with websockets_server(echo) as server:
        code, out, _, html_path = run_with_reports(
            folder, url_of(server), "--secret", "token=s3cr3t-t0ken"
        )
    assert code == ExitCode.FAILED, out
    page = html_path.read_text(encoding="utf-8")
    assert "s3cr3t" not in page
    assert '{"token":"***"}' in page and "?token=***" in page


def test_skipped_scenarios_come_after_failures_and_before_passes(tmp_path: Path) -> None:
    folder = write(tmp_path, a_fail=FAILING, b_pass=PASSING)
    with websockets_server(echo) as server:
        code, out, _, html_path = run_with_reports(folder, url_of(server), "-x")
    assert code == ExitCode.FAILED, out
    page = html_path.read_text(encoding="utf-8")
    scenarios = re.findall(
        r'<details class="sc (\w+)" id="s\d+"( open)?><summary><i>\w+</i> <b>([^<]+)</b>', page
    )
    assert scenarios == [("failed", " open", "echo mismatch"), ("skipped", "", "echo works")]
    assert '<p class="none">no step ran</p>' in page


def test_report_refuses_what_is_not_a_json_report(tmp_path: Path) -> None:
    (tmp_path / "text.json").write_text("not json", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "old.json").write_text('{"report_version": 99}', encoding="utf-8")
    shaped = {"report_version": 1, "scenarios": [7], "events": [], "services": [],
              "counts": {}, "latency": {}, "status": "passed", "duration": 0}  # fmt: skip
    (tmp_path / "shaped.json").write_text(json.dumps(shaped), encoding="utf-8")
    cases = {
        "missing.json": "cannot read",
        "text.json": "is not a JSON report: Expecting value: line 1 column 1",
        "list.json": "is not a wsrun JSON report: it is not a JSON object",
        "old.json": "report_version is 99, this wsrun renders version 3",
        "shaped.json": "is not a wsrun JSON report: AttributeError(",
    }
    for name, message in cases.items():
        code, out = cli("report", str(tmp_path / name), "-o", str(tmp_path / "out.html"))
        assert code == ExitCode.USAGE, (name, out)
        assert out.startswith("wsrun: error: ") and message in out, (name, out)
        assert "Traceback" not in out
    assert not (tmp_path / "out.html").exists()


def test_report_refuses_an_output_it_cannot_or_should_not_write(tmp_path: Path) -> None:
    report = tmp_path / "run.json"
    report.write_text("{}", encoding="utf-8")
    code, out = cli("report", str(report), "-o", str(tmp_path / "nowhere" / "x.html"))
    assert code == ExitCode.USAGE and "the folder" in out and "does not exist" in out
    code, out = cli("report", str(report), "-o", str(report))
    assert code == ExitCode.USAGE and "that is the JSON report itself" in out
    assert report.read_text(encoding="utf-8") == "{}"
    code, out = cli(str(tmp_path), "--html-report", str(tmp_path / "nowhere" / "x.html"))
    assert code == ExitCode.USAGE and "--html-report" in out and "does not exist" in out
    code, out = cli(str(tmp_path), "--json-report", "r.out", "--html-report", "./r.out")
    assert code == ExitCode.USAGE
    assert "wsrun: error: --html-report ./r.out: --json-report writes that file already" in out


def test_a_service_that_did_not_start_shows_why_and_its_output(tmp_path: Path) -> None:
    (tmp_path / "wsrun-suite.yaml").write_text(
        """
services:
  - name: broken
    command: [python3, -c, "print('starting <up>'); raise SystemExit(4)"]
    ready: {log: never}
    timeout: 5s
""",
        encoding="utf-8",
    )
    write(tmp_path, a_pass=PASSING)
    code, out, _, html_path = run_with_reports(tmp_path, "ws://127.0.0.1:9/")
    assert code == ExitCode.INTERNAL, out
    page = html_path.read_text(encoding="utf-8")
    services = page[page.index('<section id="services">') :]
    assert "<h3>broken</h3>" in services
    assert '<p class="why">output shown: did not start: exited with code 4' in services
    assert (
        "<details open><summary>output of broken (1 line)</summary>"
        '<pre class="out">starting &lt;up&gt;</pre>' in services
    )
    assert re.search(r'<details class="sc skipped" id="s0"><summary>', page)


def poisoned(value: object, key: str = "") -> object:
    """`value` with markup added to every string in it (but the events' types)."""
    if isinstance(value, dict):
        return {k: poisoned(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(item, key) for item in value]
    if isinstance(value, str) and key != "type":
        return value + '<script>alert("x")</script><svg onload=alert(1)>'
    return value


def test_report_renders_a_poisoned_json_report_as_text(tmp_path: Path) -> None:
    """`wsrun report` reads files from anywhere: every string of one may be hostile."""
    folder = write(tmp_path, a_pass=PASSING, b_fail=FAILING)
    with websockets_server(echo) as server:
        run_with_reports(folder, url_of(server), "--junit-xml", str(tmp_path / "j.xml"))
    report = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    report["events"].append({"type": "frame_received", "at": 1.0, "scenario": 1, "conn": "a",
                             "data": {"base64": "not base64!"}})  # fmt: skip
    (tmp_path / "poisoned.json").write_text(json.dumps(poisoned(report)), encoding="utf-8")
    code, out = cli("report", str(tmp_path / "poisoned.json"), "-o", str(tmp_path / "p.html"))
    assert code == ExitCode.OK, out
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    tags = parsed(page)
    assert {tag for tag, _ in tags.tags} <= ALLOWED_TAGS
    assert not [name for _, attrs in tags.tags for name, _ in attrs if name.startswith("on")]
    assert page.count("&lt;script&gt;") > 20 and "&lt;binary, not valid base64&gt;" in page
    assert '<details class="sc error" id="s0" open>' in page  # an unknown status: an error


def test_ctrl_c_writes_the_html_report_of_what_ran(tmp_path: Path) -> None:
    write(tmp_path, waits="""
name: waits long
timeout: 60s
steps:
  - connect: {url: "${url}"}
  - send: anyone
  - expect: never
""")  # fmt: skip
    html_path = tmp_path / "run.html"
    with websockets_server(peers.silent) as server:
        command = [sys.executable, "-m", "runner", str(tmp_path), "--no-color",
                   "--var", f"url={url_of(server)}", "--html-report", str(html_path)]  # fmt: skip
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "COLUMNS": "100"},
        ) as proc:  # fmt: skip
            try:
                assert proc.stdout is not None
                for line in proc.stdout:  # until the message is sent: the expect waits
                    if "→ sent" in line:
                        break
                proc.send_signal(signal.SIGINT)
                code = proc.wait(timeout(10))
            finally:
                if proc.poll() is None:
                    proc.kill()
    assert code == ExitCode.INTERRUPTED
    page = html_path.read_text(encoding="utf-8")
    assert '<span class="badge interrupted">INTERRUPTED</span>' in page
    assert re.search(r'<details class="sc interrupted" id="s0" open><summary><i>interrupted</i> '
                     r"<b>waits long</b>", page)  # fmt: skip
    assert ">anyone</text>" in page  # its timeline, up to the interruption


def test_the_timeline_shows_http_requests_envelopes_and_no_heartbeats(tmp_path: Path) -> None:
    """An `http` step is a row (method, URL, status, latency); a protocol connection's rows
    show the envelopes the steps matched, not the bytes; heartbeats get no row."""
    root = Path(__file__).resolve().parents[2]
    page = tmp_path / "report.html"
    files = [root / "scenarios" / name for name in ("18-http-login.yaml", "27-mqtt.yaml")]
    console = Console(file=StringIO(), width=200, color_system=None)
    code = main([*map(str, files), "--html-report", str(page)], console=console)
    assert code == ExitCode.OK, console.file.getvalue()  # type: ignore[attr-defined]
    text = page.read_text(encoding="utf-8")
    assert re.search(r"HTTP POST http://127\.0\.0\.1:\d+/login → 200 in \d", text), text[:2000]
    assert "→ 401 in" in text  # the wrong password, as the step expected
    assert '{"type": "connack", "code": 0, "session_present": false}' in text  # not its bytes
    beat = {"type": "frame_received", "at": 1.0, "conn": "a", "data": "2", "heartbeat": True}
    pong = {**beat, "heartbeat": False, "data": "3"}
    assert _row(beat, None, 80) is None
    assert _row(pong, None, 80) is not None
