"""The import rules of DESIGN.md, checked on the source: dependencies point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import runner.events
import runner.executor
import runner.report.console
import runner.report.json_report
import runner.report.junit
import runner.report.report_schema

RUNNER = Path(__file__).resolve().parents[2] / "runner"


def imported(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(*parts: str) -> list[Path]:
    base = RUNNER.joinpath(*parts)
    return [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))


def uses(path: Path, package: str) -> bool:
    return any(name == package or name.startswith(f"{package}.") for name in imported(path))


def test_only_the_client_core_imports_websocket_client() -> None:
    offenders = [
        p.relative_to(RUNNER)
        for p in modules()
        if uses(p, "websocket") and "client" not in p.relative_to(RUNNER).parts[:1]
    ]
    assert offenders == []


def test_only_the_cli_and_the_reporters_import_rich() -> None:
    allowed = {Path("cli.py")}
    offenders = [
        p.relative_to(RUNNER)
        for p in modules()
        if uses(p, "rich")
        and p.relative_to(RUNNER) not in allowed
        and p.relative_to(RUNNER).parts[0] != "report"
    ]
    assert offenders == []


@pytest.mark.parametrize("path", modules("client"), ids=str)
def test_the_client_core_stands_alone(path: Path) -> None:
    """runner.client is a library of its own: of wsrun it knows itself, the errors and RFC 6455."""
    known = ("runner.client", "runner.errors", "runner.rfc6455")
    outside = {
        name for name in imported(path) if name.startswith("runner.") and not name.startswith(known)
    }
    assert outside == set()


def test_the_rfc6455_rules_are_a_pure_module() -> None:
    """The client, the language and the server import runner.rfc6455: it imports none of them."""
    found = imported(RUNNER / "rfc6455.py")
    assert {name for name in found if name == "runner" or name.startswith("runner.")} == set()


@pytest.mark.parametrize("path", [*modules("executor"), *modules("events.py")], ids=str)
def test_the_engine_knows_nothing_of_reporters_or_the_cli(path: Path) -> None:
    assert not uses(path, "runner.report") and not uses(path, "runner.cli")


@pytest.mark.parametrize("path", modules("report"), ids=str)
def test_reporters_render_events_without_running_anything(path: Path) -> None:
    assert not uses(path, "runner.executor") and not uses(path, "runner.cli")


@pytest.mark.parametrize(
    "module",
    [
        runner.events,
        runner.executor,
        runner.report.console,
        runner.report.json_report,
        runner.report.junit,
        runner.report.report_schema,
    ],
)
def test_exports_are_honest(module: object) -> None:
    exported = getattr(module, "__all__")  # noqa: B009 - the point is to read it
    assert sorted(exported) == sorted(set(exported))
    assert all(hasattr(module, name) for name in exported)
