"""What the protocol tests share: running a scenario through the CLI in-process, and holding the
README's protocol examples to what the console really shows."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

from rich.console import Console

from runner.cli import main

__all__ = ["comparable", "readme_section", "run"]

README = Path(__file__).resolve().parents[2] / "README.md"


def run(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    """Run `text` as a scenario; the exit code, the console's text and the JSON report."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    report = tmp_path / "report.json"
    console = Console(file=StringIO(), width=250, color_system=None)
    code = main([str(scenario), "--json-report", str(report), *extra], console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert report.exists(), output
    return code, output, json.loads(report.read_text(encoding="utf-8"))


def readme_section(heading: str) -> tuple[str, str]:
    """The YAML example and the -v output shown under `heading` in the README (up to the next
    heading of level 2 to 4)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = re.compile(r"\n#{2,4} ").search(text, start)
    section = text[start : end.start() if end else len(text)]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    return example, shown


def comparable(lines: str) -> list[str]:
    """Console lines without their times, addresses, Socket.IO sids, durations and NULs (the
    console prints a STOMP frame's final NUL as it is; the README cannot show it)."""
    out = []
    for line in lines.replace("\x00", "").splitlines():
        line = re.sub(r"^\s*[\d.]+s ", "", line)
        line = re.sub(r"127\.0\.0\.1:\d+", "HOST", line)
        line = re.sub(r'"sid": ?"[^"]+"', '"sid":"…"', line)
        line = re.sub(r"[\d.]+ ms.*$", "", line)
        out.append(line.rstrip())
    return out
