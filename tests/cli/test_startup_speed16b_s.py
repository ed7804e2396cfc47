"""Start-up (issue 15, helper S of 2026-12-02): what ``wsrun validate`` and ``wsrun run`` do
before their work, checked in fresh processes (what was imported or built, not a time).

- Pydantic's plugin look-up (`runner.scenario.pydantic_plugins`): `importlib.metadata` and
  `email` (~22 ms with the entry-point scan) are not imported when no distribution declares a
  pydantic plugin; a plugin that is declared is still loaded and used.
- `shutil` (with `bz2`, `lzma`, `zlib`: ~3 ms), which argparse imports for the terminal's width
  whenever it adds an option: the parser finds that width as `shutil` would.
- rich (~30 ms: its console, text and table): a run whose output is piped writes its plain lines
  and its summary table itself (`runner.report.console.plain_table`); a terminal, ``COLUMNS``,
  ``FORCE_COLOR`` or ``TTY_COMPATIBLE`` still get rich's console.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import _DeferredConsole
from runner.scenario import pydantic_plugins
from tests.cli.test_imports_speed16c import PAIRS
from tests.support import echo, timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]
ONE_STEP = "name: one\nsteps:\n  - connect: ws://127.0.0.1:9/\n"
#: Which of `modules` a command imports. Those Python imported as it started (a site's .pth files
#: may: the dev environment's import shutil) are forgotten first, to be seen if imported again.
PROBE = """
import sys
for name in {modules!r}:
    sys.modules.pop(name, None)
from runner.cli import main
code = main(sys.argv[1:])
print("imported:", ",".join(m for m in {modules!r} if m in sys.modules) or "none")
sys.exit(code)
"""
PLUGIN = """
import os


class Plugin:
    def new_schema_validator(self, schema, schema_type, path, kind, config, settings):
        with open(os.environ["PLUGIN_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{path.name}\\n")
        return None, None, None


plugin = Plugin()
"""


def _probe(
    *args: str, modules: tuple[str, ...], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(modules=modules), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(30),
        env=env,
    )


def test_validate_without_pydantic_plugins_imports_no_importlib_metadata_nor_shutil(
    tmp_path: Path,
) -> None:
    (tmp_path / "one.yaml").write_text(ONE_STEP, encoding="utf-8")
    done = _probe(
        "validate", str(tmp_path / "one.yaml"), modules=("importlib.metadata", "email", "shutil")
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["valid: 1 path checked, no errors", "imported: none"]


def _declare_plugin(folder: Path) -> None:
    """A distribution on `folder` that declares a pydantic plugin, as an installed one would."""
    (folder / "probe_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = folder / "probe_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: probe-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[pydantic]\nprobe = probe_plugin:plugin\n", encoding="utf-8"
    )


def test_a_declared_pydantic_plugin_is_still_loaded_and_used(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _declare_plugin(site)
    (tmp_path / "one.yaml").write_text(ONE_STEP, encoding="utf-8")
    log = tmp_path / "plugin.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), PLUGIN_LOG=str(log))
    done = _probe("validate", str(tmp_path / "one.yaml"), modules=("probe_plugin",), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "valid: 1 path checked, no errors",
        "imported: probe_plugin",
    ]
    # pydantic asked the plugin about every validator it built: the file's and the step's
    assert {"ScenarioFile", "ConnectStep"} <= set(log.read_text(encoding="utf-8").split())


def test_plugins_declared_reads_the_entry_points_of_the_path(tmp_path: Path) -> None:
    empty, other, declaring = tmp_path / "empty", tmp_path / "other", tmp_path / "declaring"
    for folder in (empty, other, declaring):
        folder.mkdir()
    info = other / "other-1.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text("[console_scripts]\nx = x:main\n", encoding="utf-8")
    (other / "legacy.egg-info").write_text("Name: legacy\n", encoding="utf-8")  # a one-file one
    _declare_plugin(declaring)
    missing = str(tmp_path / "missing")
    assert not pydantic_plugins.plugins_declared([str(empty), str(other), missing])
    assert pydantic_plugins.plugins_declared([str(empty), str(declaring)])
    # what the look does not read, the real loader decides
    (tmp_path / "packages.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    assert pydantic_plugins.plugins_declared([str(tmp_path / "packages.zip")])
    assert pydantic_plugins.plugins_declared([str(tmp_path / "thing.egg")])


def test_anything_else_taken_from_the_loader_comes_from_pydantic_s_own() -> None:
    code = (
        "import sys, runner.scenario\n"
        "from pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP\n"
        "from pydantic.plugin import _loader\n"
        "print(PYDANTIC_ENTRY_POINT_GROUP, sys.modules[_loader.__name__] is _loader,"
        " _loader.__file__.endswith('_loader.py'), 'importlib.metadata' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout(30)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pydantic", "True", "True", "True"]


def _run_q(tmp_path: Path, *, env: dict[str, str] | None = None) -> list[str]:
    (tmp_path / "pairs.yaml").write_text(PAIRS, encoding="utf-8")
    with websockets_server(echo) as server:
        done = _probe(
            "run",
            "-q",
            str(tmp_path / "pairs.yaml"),
            "--var",
            f"url={url_of(server)}",
            modules=("rich", "rich.console", "rich.text", "rich.table"),
            env=env,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_a_piped_run_imports_no_rich(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    lines = _run_q(tmp_path, env=env)
    assert lines[0].startswith("✓ PASSED pairs  (") and lines[0].endswith(", 4/4 steps)")
    assert lines[1] == "scenario  result  duration  steps"
    assert lines[2].startswith("pairs     passed  ") and lines[2].endswith("    4/4")
    assert lines[-2].startswith("PASSED: 1 passed in ")
    assert lines[-1] == "imported: none"


def test_a_run_that_forces_colours_still_prints_through_rich(tmp_path: Path) -> None:
    lines = _run_q(tmp_path, env=dict(os.environ, FORCE_COLOR="1"))
    assert "\x1b[" in "\n".join(lines)  # rich's colours
    assert lines[-1] == "imported: rich,rich.console,rich.text,rich.table"


@pytest.mark.parametrize(
    ("variable", "value"), [("COLUMNS", "120"), ("FORCE_COLOR", "1"), ("TTY_COMPATIBLE", "1")]
)
def test_the_console_is_plain_only_where_rich_s_certainly_would_be(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    console = _DeferredConsole(no_color=False)
    console.file = io.StringIO()
    assert console.plain() and console.color_system is None and console.width == 10**6
    monkeypatch.setenv(variable, value)
    assert not console.plain()


def test_a_terminal_s_console_is_rich_s() -> None:
    leader, follower = os.openpty()
    try:
        with open(follower, "w", encoding="utf-8", closefd=False) as terminal:
            console = _DeferredConsole(no_color=True)
            console.file = terminal
            assert not console.plain()
            assert console.color_system is None  # --no-color, from rich's own console
            assert console._made is not None
    finally:
        os.close(leader)
        os.close(follower)


GC_PROBE = """
import gc, sys
{setup}
from runner.cli import main
{before}
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info))
code = main(sys.argv[1:])
print("collections:", sum(1 for info in collections if info["generation"] < 2))
print("collecting after:", gc.isenabled())
sys.exit(code)
"""
#: The run phase's start, seen from inside: whether the collector is on.
RUN_PHASE = """
import runner.executor
real = runner.executor.run_suite
def run_suite(*args, **kwargs):
    print("run phase collects:", gc.isenabled())
    return real(*args, **kwargs)
runner.executor.run_suite = run_suite
"""


def _gc_probe(*args: str, setup: str = "", before: str = "") -> list[str]:
    code = GC_PROBE.format(setup=setup, before=before)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(30),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_validate_s_start_up_runs_no_garbage_collection(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(ONE_STEP, encoding="utf-8")
    lines = _gc_probe("validate", str(tmp_path / "one.yaml"))
    # importing pydantic, the models and yaml ran ~70 collections of the young generations
    assert lines == ["valid: 1 path checked, no errors", "collections: 0", "collecting after: True"]


def test_a_run_s_phase_collects_garbage_as_usual(tmp_path: Path) -> None:
    (tmp_path / "pairs.yaml").write_text(PAIRS, encoding="utf-8")
    with websockets_server(echo) as server:
        args = ("run", "-q", str(tmp_path / "pairs.yaml"), "--var", f"url={url_of(server)}")
        lines = _gc_probe(*args, setup=RUN_PHASE)
        assert lines[0] == "run phase collects: True"
        assert lines[-1] == "collecting after: True"
        # a caller that turned the collector off keeps it off
        lines = _gc_probe(*args, setup=RUN_PHASE, before="gc.disable()")
        assert lines[0] == "run phase collects: False"
        assert lines[-1] == "collecting after: False"


def test_main_builds_its_parser_once_per_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner import cli

    (tmp_path / "one.yaml").write_text(ONE_STEP, encoding="utf-8")
    cli._parser.cache_clear()
    assert cli.main(["validate", str(tmp_path / "one.yaml")]) == 0
    assert cli.main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert cli.main(["--version"]) == 0
    assert cli._parser.cache_info().misses == 1
    out = capsys.readouterr().out
    assert "valid: 1 path checked, no errors" in out and "wsrun 0.1.0" in out


HELP_PROBE = """
import argparse
from runner import cli
ours = [cli.build_parser()]
ours += list(ours[0]._subparsers._group_actions[0].choices.values())
texts = [p.format_help() for p in ours]
cli._ArgumentParser._get_formatter = argparse.ArgumentParser._get_formatter  # argparse's own
stock = [cli.build_parser()]
stock += list(stock[0]._subparsers._group_actions[0].choices.values())
print(texts == [p.format_help() for p in stock], len(texts), max(len(t) for t in texts))
"""


def _help_probe(columns: str | None, terminal_columns: int | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    if terminal_columns is None:
        done = subprocess.run(
            [sys.executable, "-c", HELP_PROBE],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout(30),
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()
    import fcntl
    import struct
    import termios

    leader, follower = os.openpty()
    try:
        size = struct.pack("HHHH", 24, terminal_columns, 0, 0)
        fcntl.ioctl(follower, termios.TIOCSWINSZ, size)
        subprocess.run(
            [sys.executable, "-c", HELP_PROBE],
            cwd=ROOT,
            stdout=follower,
            timeout=timeout(30),
            env=env,
            check=True,
        )
        return os.read(leader, 4096).decode().strip()
    finally:
        os.close(leader)
        os.close(follower)


@pytest.mark.parametrize("columns", [None, "40", "200", "abc", "0"])
def test_the_help_is_as_wide_as_argparse_makes_it(columns: str | None) -> None:
    assert _help_probe(columns).startswith("True 9 ")


def test_the_help_is_as_wide_as_the_terminal() -> None:
    assert _help_probe(None, terminal_columns=50).startswith("True 9 ")
