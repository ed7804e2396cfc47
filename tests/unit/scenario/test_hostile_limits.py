"""Limits on what a file can hold: depths, sizes, counts are located errors, never crashes.

Each case was a traceback (exit 3), a segfault, a hang or a MemoryError in a fault trial.
"""

from __future__ import annotations

import time
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.errors import MAX_REPORTED_ERRORS, ExecutionError, ScenarioError
from runner.matching import compile_matcher, extract_saves
from runner.scenario import validate_paths
from runner.scenario.rendering import render_variables
from runner.scenario.source import MAX_DEPTH, parse_document
from runner.scenario.steps import ExpectStep
from runner.scenario.templates import MAX_RENDERED, render, rendered_size
from tests.support import echo, timeout, url_of, websockets_server

HEAD = "name: t\nsteps:\n  - connect: ws://127.0.0.1:1/\n"


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    console = Console(file=StringIO(), width=100, color_system=None)
    code = main(["validate", str(path)], console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("levels", [MAX_DEPTH + 10, 350, 100_000])
@pytest.mark.parametrize(("open_", "close"), [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_one_located_error(
    tmp_path: Path, levels: int, open_: str, close: str
) -> None:
    started = time.monotonic()
    code, out = validate(
        tmp_path, HEAD + "  - send: {json: " + open_ * levels + close * levels + "}\n"
    )
    assert code == ExitCode.USAGE, out  # was RecursionError (350), a segfault (100,000)
    assert f"nested too deeply (the limit is {MAX_DEPTH} levels)" in out
    assert ":4:" in out and "Traceback" not in out
    assert time.monotonic() - started < timeout(2)


def test_aliases_cannot_nest_beyond_the_limit_either() -> None:
    lines = ["a0: &a0 [x]"] + [f"a{i + 1}: &a{i + 1} [*a{i}]" for i in range(MAX_DEPTH + 5)]
    document = parse_document("\n".join(lines) + "\n", "f.yaml")
    assert any("nested too deeply" in e.message for e in document.problems)


@pytest.mark.parametrize(
    "value",
    ["9" * 4301, "0x" + "f" * 5000, "0o" + "7" * 5000, "-" + "1" * 1001],
)
def test_huge_integers_are_located_errors(tmp_path: Path, value: str) -> None:
    code, out = validate(tmp_path, HEAD + f"  - send: {{json: {{n: {value}}}}}\n")
    assert code == ExitCode.USAGE, out  # was ValueError: Exceeds the limit (4300 digits)
    assert "integer too large" in out and "the limit is 1,000" in out


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("'${random_int(1, " + "9" * 4301 + ")}'", "integer argument too large"),
        ("'${random_string(1000000000)}'", "random_string(1000000000): longer than the limit"),
        ("'${random_int(9, 1)}'", "the low end is above the high end"),
    ],
)
def test_function_arguments_are_checked_at_load(tmp_path: Path, step: str, message: str) -> None:
    code, out = validate(tmp_path, HEAD + f"  - send: {step}\n")
    assert code == ExitCode.USAGE, out
    assert message in out and ":4:11:" in out


@pytest.mark.parametrize(
    ("step", "where"),
    [
        ("  - expect: {text: a, next: {a: 1}}\n", ":4:29: wrong type for 'next'"),
        ("  - expect: {text: a, next: [1]}\n", ":4:29: wrong type for 'next'"),
        (
            "  - connect: {url: 'wss://127.0.0.1:1/', tls: {verify: [1]}}\n",
            ":4:56: wrong type for 'verify'",
        ),
        ("  - expect: {regex: 'a{4294967296}(?=b)'}\n", ":4:21: invalid regular expression"),
        ("  - expect: {regex: '" + "(" * 1000 + ")" * 1000 + "'}\n", None),
    ],
)
def test_values_that_crashed_the_validator(tmp_path: Path, step: str, where: str | None) -> None:
    started = time.monotonic()
    code, out = validate(tmp_path, HEAD + step)
    assert "Traceback" not in out
    if where is None:
        assert code == ExitCode.OK, out  # 1,000 nested groups: RE2 takes them (re recursed)
    else:
        assert code == ExitCode.USAGE and where in out, out
    assert time.monotonic() - started < timeout(2)


def test_a_doubling_chain_of_variables_is_refused_at_load(tmp_path: Path) -> None:
    chain = "".join(f"  v{i + 1}: '${{v{i}}}${{v{i}}}'\n" for i in range(34))
    code, out = validate(
        tmp_path, "name: t\nvars:\n  v0: ab\n" + chain + HEAD[8:] + "  - send: '${v34}'\n"
    )
    assert code == ExitCode.USAGE, out  # was valid, then a MemoryError at run time
    assert f"renders to more than the limit of {MAX_RENDERED:,} characters" in out


def test_rendering_beyond_the_limit_is_a_scenario_error_at_run_time() -> None:
    chain = {f"v{i + 1}": f"${{v{i}}}${{v{i}}}" for i in range(40)}
    with pytest.raises(ScenarioError, match="renders to more than the limit"):
        render_variables(chain, {"v0": "x" * 1000})  # v0 known at run time only
    shared: list[object] = ["x" * 100]
    for _ in range(60):
        shared = [shared, shared]  # 2**60 strings if expanded: a value saved from a message
    started = time.monotonic()
    with pytest.raises(ScenarioError, match="over the limit"):
        render({"json": "${d}"}, {"d": shared})
    with pytest.raises(ScenarioError, match="renders to more than the limit"):
        render("text ${d}", {"d": shared})
    assert time.monotonic() - started < timeout(1)
    with pytest.raises(ScenarioError, match="random_string"):
        render("${random_string(n)}", {"n": 10**12})
    with pytest.raises(ScenarioError, match=r"random_int\(\) takes integers"):
        render("${random_int(a, 3)}", {"a": "x"})  # was a TypeError


def test_rendered_size_counts_shared_parts_without_expanding_them() -> None:
    value: list[object] = ["abc"]
    for _ in range(100):
        value = [value, value]
    assert rendered_size(value) > MAX_RENDERED
    assert rendered_size({"a": "xyz", "b": [1, 2]}) < 40


def test_sixteen_thousand_errors_are_found_fast(tmp_path: Path) -> None:
    steps = "".join(f"  - send: {{text: a, bogus{i % 7}: 1}}\n" for i in range(16_000))
    path = tmp_path / "many.yaml"
    path.write_text(HEAD + steps, encoding="utf-8")
    started = time.monotonic()
    errors = validate_paths([path])
    assert time.monotonic() - started < timeout(6)  # was 12 s: the file split per error
    assert len(errors) == MAX_REPORTED_ERRORS + 1
    assert errors[0].location is not None and errors[0].location.line == 4
    assert errors[-1].message == "and 15,000 more errors, not shown (wsrun reports the first 1,000)"
    code, out = validate(tmp_path, HEAD + steps)
    assert code == ExitCode.USAGE and out.count("unknown key 'bogus") == MAX_REPORTED_ERRORS


def test_a_hostile_json_message_is_a_failed_match_not_a_crash() -> None:
    matcher = compile_matcher(ExpectStep.model_validate({"kind": "expect", "json": {"a": 1}}))
    deep = matcher.match("[" * 100_000 + "]" * 100_000)
    huge = matcher.match('{"a": ' + "9" * 5000 + "}")
    assert not deep.ok and "nested too deeply" in deep.reason
    assert not huge.ok and "exceeds the limit" in huge.reason


def test_a_run_time_size_beyond_the_limit_fails_the_scenario_clearly(tmp_path: Path) -> None:
    """`${random_string(n)}` with n from `--var`: unknown at load, a scenario error at run time
    (it was a MemoryError after a minute)."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nsteps:\n  - connect: '${url}'\n  - send: '${random_string(n)}'\n",
        encoding="utf-8",
    )
    console = Console(file=StringIO(), width=100, color_system=None)
    started = time.monotonic()
    with websockets_server(echo) as server:
        code = main(
            [str(path), "--var", "n=1000000000", "--var", f"url={url_of(server)}"],
            console=console,
        )
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.FAILED, out
    assert "random_string(1000000000): longer than the limit of 16,777,216 characters" in out
    assert "s.yaml:4:5 (step 2, send on default)" in out
    assert time.monotonic() - started < timeout(3)


def test_a_message_too_deep_for_jsonpath_fails_to_match_and_to_save() -> None:
    deep = "[" * 900 + "]" * 900  # json.loads reads it; a recursive `..` walk does not
    step = ExpectStep.model_validate({"kind": "expect", "jsonpath": {"$..a": [1]}})
    result = compile_matcher(step).match(deep)
    assert not result.ok and result.reason == "the message is nested too deeply to match"
    assert compile_matcher(step).diff(deep) is None
    with pytest.raises(ExecutionError, match="nested too deeply for"):
        extract_saves({"x": "$..a"}, deep, {})


@pytest.mark.parametrize("written", ["99999999999999999999999999999999s", "169h", "605000"])
def test_durations_beyond_a_week_are_located_errors(tmp_path: Path, written: str) -> None:
    """A sleep of 10**32 s passed validate, then Python's wait raised OverflowError."""
    code, out = validate(tmp_path, HEAD + f"  - sleep: {written}\n")
    assert code == ExitCode.USAGE, out
    assert f"4:12: duration {written} is out of range: at most 7 days" in out
