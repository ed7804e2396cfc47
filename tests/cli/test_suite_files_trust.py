"""Files a scenario may read (issue 9): imports, `json_schema` and TLS files stay inside the
suite's root unless `--allow-outside` says otherwise; no content of a file that is not a
scenario or library is printed; bad import paths are located errors, not tracebacks."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main

SECRET = "hunter2-very-secret"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str]:
    console = Console(file=StringIO(), width=200, color_system=None)
    code = main(list(args), console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/suite (a suite folder, the cwd) beside tmp/outside (with a library and secrets)."""
    suite = tmp_path / "suite"
    write(suite, "wsrun-suite.yaml", "vars: {}\n")
    write(suite, "wsrun.toml", "")
    library = "blocks:\n  hello:\n    steps: [{send: hello}]\n"
    write(tmp_path, "outside/lib.yaml", library)
    write(tmp_path, "outside/secrets.yaml", f"password: {SECRET}\n  bad: [\n")
    write(tmp_path, "outside/schema.json", '{"type": "object"}')
    monkeypatch.chdir(suite)
    return tmp_path


def scenario(imports: str, steps: str = "[{connect: 'ws://127.0.0.1:1/'}]") -> str:
    return f"name: s\nimports: {imports}\nsteps: {steps}\n"


def test_an_import_outside_the_suite_root_is_refused_unless_allowed(layout: Path) -> None:
    """Before: `imports` accepted `../` and absolute paths anywhere on the disk."""
    suite = layout / "suite"
    write(suite, "s.yaml", scenario("[{path: ../outside/lib.yaml}, {path: /etc/passwd}]"))
    code, out = cli("validate", ".")
    assert code == ExitCode.USAGE, out
    assert "s.yaml:2:11: import ../outside/lib.yaml is outside the suite's root" in out
    assert "s.yaml:2:40: import /etc/passwd is outside the suite's root" in out
    assert f"must be inside {suite}; allow more with --allow-outside PATH" in out
    assert "root:" not in out  # nothing of /etc/passwd
    write(suite, "s.yaml", scenario("[{path: ../outside/lib.yaml}]"))
    assert cli("validate", ".", "--allow-outside", "../outside")[0] == ExitCode.OK
    assert cli("validate", ".", "--allow-outside", "../outside/lib.yaml")[0] == ExitCode.OK


def test_a_yaml_error_in_an_imported_file_that_is_no_library_shows_none_of_it(
    layout: Path,
) -> None:
    """Before: the offending line was printed (a fake secrets file printed its password)."""
    suite = layout / "suite"
    write(suite, "creds.txt", f"password: {SECRET}\n  bad: [\n")
    write(suite, "s.yaml", scenario("[{path: creds.txt}]"))
    code, out = cli("validate", ".")
    assert code == ExitCode.USAGE, out
    assert "creds.txt is not a library: it is not valid YAML at line 2, column" in out
    assert SECRET not in out
    assert "s.yaml:2:11" in out
    code, out = cli("validate", ".", "--allow-outside", "../outside")
    write(suite, "s.yaml", scenario("[{path: ../outside/secrets.yaml}]"))
    code, out = cli("validate", ".", "--allow-outside", "../outside")
    assert code == ExitCode.USAGE
    assert SECRET not in out
    write(suite, "plain.yaml.txt", f"password: {SECRET}\n")
    write(suite, "s.yaml", scenario("[{path: plain.yaml.txt}]"))
    code, out = cli("validate", ".")
    assert "plain.yaml.txt is not a library (it has no blocks:)" in out
    assert SECRET not in out


def test_a_library_with_a_yaml_error_still_shows_its_line(layout: Path) -> None:
    suite = layout / "suite"
    write(suite, "lib.yaml", "blocks:\n  hello: @bad\n")
    write(suite, "s.yaml", scenario("[{path: lib.yaml}]"))
    code, out = cli("validate", "s.yaml")
    assert code == ExitCode.USAGE
    assert "lib.yaml:2:10" in out and "hello: @bad" in out


def test_json_schema_and_tls_files_outside_the_root_are_refused_unread(layout: Path) -> None:
    suite = layout / "suite"
    steps = (
        "[{connect: {url: 'wss://127.0.0.1:1/', tls: {ca: ../outside/ca.pem}}},"
        " {expect: {json_schema: ../outside/schema.json}}]"
    )
    write(suite, "s.yaml", scenario("[]", steps))
    code, out = cli("validate", ".")
    assert code == ExitCode.USAGE, out
    assert f"the file {layout / 'outside' / 'ca.pem'} is outside the suite's root" in out
    assert f"the file {layout / 'outside' / 'schema.json'} is outside the suite's root" in out
    assert cli("validate", ".", "--allow-outside", str(layout / "outside"))[0] == ExitCode.OK
    write(suite, "schemas/ok.json", '{"type": "object"}')
    inside = "[{connect: 'ws://127.0.0.1:1/'}, {expect: {json_schema: schemas/ok.json}}]"
    write(suite, "s.yaml", scenario("[]", inside))
    assert cli("validate", ".")[0] == ExitCode.OK


def test_without_a_suite_file_the_root_is_the_scenarios_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "wsrun.toml", "")
    write(tmp_path, "lib.yaml", "blocks:\n  hello:\n    steps: [{send: hello}]\n")
    write(tmp_path, "sub/s.yaml", scenario("[{path: ../lib.yaml}]"))
    monkeypatch.chdir(tmp_path)
    code, out = cli("validate", "sub")
    assert code == ExitCode.USAGE
    assert f"must be inside {tmp_path / 'sub'}" in out


def test_bad_import_paths_are_located_errors_not_tracebacks(layout: Path) -> None:
    """Before: RuntimeError (a symlink loop), ValueError (NUL) and OSError (a name too long),
    each a traceback with exit 3."""
    suite = layout / "suite"
    os.symlink("loop2", suite / "loop1")
    os.symlink("loop1", suite / "loop2")
    long_name = "b" * 300 + ".yaml"
    imports = f'[{{path: loop1/x.yaml}}, {{path: "a\\0b.yaml"}}, {{path: {long_name}}}]'
    write(suite, "s.yaml", scenario(imports))
    code, out = cli("validate", ".")
    assert code == ExitCode.USAGE, out
    assert "Traceback" not in out
    assert "s.yaml:2:11: cannot import 'loop1/x.yaml': a loop of symbolic links" in out
    assert "cannot import 'a\\x00b.yaml': the path holds a NUL character" in out
    assert f"cannot import {long_name!r}: file name too long" in out
    assert out.endswith("3 errors\n")
