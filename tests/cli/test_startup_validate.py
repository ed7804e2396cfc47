"""``wsrun validate`` starts light: what it imports, checked in a fresh process (not timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import timeout

ROOT = Path(__file__).resolve().parents[2]
#: Modules a one-step file's validation does not need: python-jsonpath (~50 ms to import) and
#: rich's console (~40 ms), of a 100 ms budget.
HEAVY = ("jsonpath", "rich.console")
PROBE = """
import sys
from runner.cli import main
code = main(sys.argv[1:])
print("imported:", ",".join(m for m in {heavy!r} if m in sys.modules) or "none")
sys.exit(code)
"""


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), "validate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(30),
    )


def test_validating_a_one_step_file_imports_neither_jsonpath_nor_riches_console(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "one.yaml"
    scenario.write_text("name: one\nsteps:\n  - connect: ws://127.0.0.1:9/\n", encoding="utf-8")
    done = validate(str(scenario))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["valid: 1 path checked, no errors", "imported: none"]


def test_a_file_with_a_jsonpath_matcher_still_has_its_queries_checked(tmp_path: Path) -> None:
    scenario = tmp_path / "query.yaml"
    scenario.write_text(
        "name: query\nsteps:\n  - connect: ws://127.0.0.1:9/\n"
        "  - expect: {jsonpath: {'$.a[': 1}}\n",
        encoding="utf-8",
    )
    done = validate(str(scenario))
    assert done.returncode == 2
    assert "invalid JSONPath '$.a['" in done.stdout
    assert "imported: jsonpath,rich.console" in done.stdout  # errors are printed by rich


def test_a_file_with_errors_is_reported_as_before(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: bad\nsteps:\n  - sendd: hello\n", encoding="utf-8")
    done = validate(str(scenario))
    assert done.returncode == 2
    assert f"{scenario}:3:5: unknown step kind 'sendd'" in done.stdout
    assert "did you mean 'send'?" in done.stdout


#: Modules, ours and third-party, that checking a one-step file has no use for: the run's event
#: stream and its reporters, the client core and the executor, the protocols, the HTTP client, the
#: load mode, JSON Schema, the WebSocket libraries, rich.
NOT_FOR_VALIDATE = (
    "runner.events",
    "runner.executor",
    "runner.client",
    "runner.protocols",
    "runner.report.console",
    "httpx",
    "socketio",
    "engineio",
    "locust",
    "gevent",
    "jsonschema",
    "jsonpath",
    "websockets",
    "websocket",
    "rich",
)
MODELS_PROBE = """
import sys
from runner.cli import main
code = main(sys.argv[1:])
from runner.scenario.files import ScenarioFile
from runner.scenario.kinds import step_models
from runner.scenario import step_dispatch
print("imported:", ",".join(m for m in {avoided!r} if m in sys.modules) or "none")
print("built:", ",".join(m.kind_name() for m in step_models() if m.__pydantic_complete__))
others = [m.__name__ for m in step_models() if m.kind_name() != "connect"]
schema = repr(ScenarioFile.__pydantic_core_schema__)
print("union built:", step_dispatch._WHOLE is not None or any(n in schema for n in others))
print("validators:", ",".join(step_dispatch.built_kinds()))
sys.exit(code)
"""


def test_a_one_step_validate_imports_none_of_the_run_s_modules_and_builds_only_its_kind(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "one.yaml"
    scenario.write_text("name: one\nsteps:\n  - connect: ws://127.0.0.1:9/\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", MODELS_PROBE.format(avoided=NOT_FOR_VALIDATE), "validate", scenario],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(30),
    )
    assert done.returncode == 0, done.stderr
    # the step models are built when first used (defer_build), and a file's steps are validated
    # by their kind's model alone (step_dispatch): the file's validator holds no union of every
    # kind, and no other kind's model is built
    assert done.stdout.splitlines() == [
        "valid: 1 path checked, no errors",
        "imported: none",
        "built: connect",
        "union built: False",
        "validators: connect",
    ]


USE_PROBE = """
import sys
from runner.cli import main
code = main(sys.argv[1:])
from runner.scenario import libraries, step_dispatch
from runner.scenario.kinds import step_models
built = repr(libraries._STEP.core_schema) if libraries._STEP.pydantic_complete else ""
others = [m.__name__ for m in step_models() if m.kind_name() not in ("send", "sleep")]
print("union built:", step_dispatch._WHOLE is not None or any(n in built for n in others))
print("validators:", ",".join(step_dispatch.built_kinds()))
sys.exit(code)
"""


def test_a_file_that_uses_a_block_builds_only_the_kinds_it_holds(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(
        "blocks:\n  hello:\n    params: {text: null}\n    steps:\n"
        '      - send: "${text}"\n      - sleep: 1ms\n',
        encoding="utf-8",
    )
    scenario = tmp_path / "uses.yaml"
    scenario.write_text(
        "name: uses\nimports: [lib.yaml]\nsteps:\n  - connect: ws://127.0.0.1:9/\n"
        "  - use: {block: lib.hello, with: {text: hi}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", USE_PROBE, "validate", scenario],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(30),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # the block's steps and the `use`'s expansion go by kind too: the whole union is never built
    assert done.stdout.splitlines() == [
        "valid: 1 path checked, no errors",
        "union built: False",
        "validators: connect,send,sleep,use",
    ]
