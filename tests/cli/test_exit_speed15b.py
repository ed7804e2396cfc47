"""Issue 15, second round: the `wsrun` process does not walk its heap on the way out.

`entry()` freezes what is left (`gc.freeze`) after every report is closed, so the interpreter's
last collections skip it; the reports written before must still be whole.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from runner.cli import ExitCode
from tests.support import echo, timeout, url_of, websockets_server

#: Runs the console script's entry point; at exit (atexit runs before the interpreter's final
#: collections) prints how many objects the collector's passes would skip.
PROBE = """
import atexit, gc, sys
atexit.register(lambda: print(f"FROZEN {gc.get_freeze_count()}", file=sys.stderr))
from runner.cli import entry
sys.argv = ["wsrun", *sys.argv[1:]]
entry()
"""

PAIRS = """
name: exit pairs
steps:
  - connect: "${url}"
  - send: a
  - expect: {text: a}
  - send: b
  - expect: {text: b}
  - close
"""


def test_the_process_exits_with_its_heap_frozen_and_its_reports_whole(tmp_path: Path) -> None:
    (tmp_path / "pairs.yaml").write_text(PAIRS, encoding="utf-8")
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    with websockets_server(echo) as server:
        command = [sys.executable, "-c", PROBE, "-q", str(tmp_path / "pairs.yaml")]
        command += ["--var", f"url={url_of(server)}", "--json-report", str(report)]
        command += ["--junit-xml", str(junit)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout(20),
        )
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    frozen = [line for line in result.stderr.splitlines() if line.startswith("FROZEN ")]
    assert len(frozen) == 1, result.stderr
    assert int(frozen[0].split()[1]) > 10_000, frozen  # the modules, the suite, the run's objects
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["status"] == "passed", data["status"]
    assert len(data["scenarios"][0]["steps"]) == 6, data["scenarios"]
    suite = ET.parse(junit).getroot()
    assert suite.iter("testcase").__next__().get("name") == "exit pairs"
