"""Start-up (issue 15, 2026-12-02): a run imports the `websockets` package only to compress.

The client core takes one C function of `websockets`, ``speedups.apply_mask``, loaded from its
file (`runner.client.framing`), and its permessage-deflate codec, imported when compression is
offered (`runner.client.deflate`). Importing the package itself runs its version module, which
reads `importlib.metadata`: about a tenth of a ``wsrun run``'s start-up. Each case is checked in
a fresh process (what it imported), and the run's verdict and bytes are the same.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runner.cli import ExitCode
from tests.support import echo, timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from runner.cli import main
code = main(sys.argv[1:])
names = sorted(m for m in sys.modules if m.split(".")[0] in ("websockets", "importlib"))
print("imported:", ",".join(n for n in names if n != "importlib") or "none")
sys.exit(code)
"""

PAIRS = """\
name: pairs
steps:
  - connect: {{url: "${{url}}"{extra}}}
  - send: "{text}"
  - expect: {{text: "{text}"}}
  - close
"""


def _run(tmp_path: Path, extra: str = "") -> tuple[subprocess.CompletedProcess[str], set[str]]:
    text = "x" * 300  # masked in C: more than a few bytes
    (tmp_path / "pairs.yaml").write_text(PAIRS.format(extra=extra, text=text), encoding="utf-8")
    with websockets_server(echo) as server:
        args = ["run", "-q", str(tmp_path / "pairs.yaml"), "--var", f"url={url_of(server)}"]
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout(30),
        )
    line = next(x for x in done.stdout.splitlines() if x.startswith("imported:"))
    return done, set(line.removeprefix("imported: ").split(","))


def test_a_run_without_compression_imports_neither_websockets_nor_importlib_metadata(
    tmp_path: Path,
) -> None:
    done, imported = _run(tmp_path)
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert "PASSED: 1 passed" in done.stdout
    assert "websockets.speedups" in imported  # the C masker is still used
    assert not {"websockets", "websockets.frames", "importlib.metadata"} & imported, imported


def test_a_run_that_offers_compression_imports_the_codec(tmp_path: Path) -> None:
    done, imported = _run(tmp_path, ", compression: deflate")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert "PASSED: 1 passed" in done.stdout
    assert {"websockets", "websockets.extensions.permessage_deflate"} <= imported, imported


def test_the_masker_is_websockets_own() -> None:
    from websockets.speedups import apply_mask

    from runner.client import framing

    assert framing._apply_mask is not None
    data, key = bytes(range(256)) * 5, b"\x9a\x01\xff\x10"
    assert framing._apply_mask(data, key) == apply_mask(data, key)
    assert framing._apply_mask(data, key) == bytes(b ^ key[i % 4] for i, b in enumerate(data))
