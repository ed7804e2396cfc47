"""Each step kind is declared once, and everything else follows from its model.

Every model that runs has exactly one runner, and every matcher exactly one declaration, held by
exactly one field; the language's tables, the schema and "did you mean" come from the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from pydantic import Field

import runner.executor  # noqa: F401  (registers the runners)
import runner.matching as matching
from runner.executor.step_registry import registered_runners, runs
from runner.matching import MatcherKind
from runner.scenario import validate_paths
from runner.scenario.kinds import StepModel, kind_names, step_model, step_models, synonyms
from runner.scenario.schema import scenario_json_schema
from runner.scenario.steps import IgnoreRule, MatcherFields, matcher_names


def test_every_model_that_runs_has_exactly_one_runner() -> None:
    runners = registered_runners()
    running = [model for model in step_models() if model.runs]
    assert sorted(m.__name__ for m in runners) == sorted(m.__name__ for m in running)
    assert all(runners[model].model is model for model in running)


def test_a_second_runner_for_a_model_is_refused() -> None:
    model = next(m for m in step_models() if m.runs)
    with pytest.raises(TypeError, match="has a runner already"):
        runs(model)(lambda ctx, step: registered_runners()[model].run(ctx, step))


def test_the_kinds_in_documentation_order() -> None:
    core = ("connect", "send", "expect", "expect_none", "close", "expect_close", "sleep", "use")
    assert kind_names()[: len(core)] == core  # then those of steps_expect.py, steps_flow.py
    assert {"expect_all", "expect_sequence", "poll"} <= set(kind_names())
    assert synonyms() == {"expect-message": "expect"}
    assert step_model("expect-message") is step_model("expect")
    assert step_model("exepct") is None


def test_a_kind_or_synonym_is_declared_once() -> None:
    with pytest.raises(TypeError, match="'expect-message' already names a kind"):

        class _Clash(StepModel):
            kind: Literal["clash"] = Field("clash")
            synonyms: ClassVar[tuple[str, ...]] = ("expect-message",)


def test_a_shorthand_must_name_a_field() -> None:
    with pytest.raises(TypeError, match="shorthand 'nothing' is not a field"):

        class _Bad(StepModel):
            kind: Literal["bad_shorthand"] = Field("bad_shorthand")
            shorthand: ClassVar[str | None] = "nothing"
            shorthand_schema: ClassVar[dict[str, Any] | None] = {"type": "string"}


def test_the_schema_offers_every_kind_its_synonyms_and_bare_forms() -> None:
    schema = scenario_json_schema()
    assert schema["properties"]["steps"]["items"] == {"$ref": "#/$defs/WrittenStep"}
    steps = schema["$defs"]["WrittenStep"]["anyOf"]
    keys = {key for alternative in steps for key in alternative.get("properties", {})}
    assert keys == {*kind_names(), *synonyms()}
    bare = next(a for a in steps if "enum" in a)["enum"]
    assert bare == [m.kind_name() for m in step_models() if m.bare] == ["close", "expect_close"]


def test_every_matcher_is_declared_once_and_held_by_one_field() -> None:
    declared = [v for v in vars(matching).values() if isinstance(v, MatcherKind)]
    held = [
        kind
        for info in MatcherFields.model_fields.values()
        for kind in info.metadata
        if isinstance(kind, MatcherKind)
    ]
    assert sorted(k.name for k in held) == sorted(k.name for k in declared)
    assert len({k.name for k in held}) == len(held)
    assert matcher_names()[:5] == ["text", "regex", "json", "jsonpath", "binary"]


def test_the_missing_matcher_error_lists_the_declared_matchers() -> None:
    with pytest.raises(ValueError, match="text, regex, json, jsonpath, binary"):
        IgnoreRule.model_validate({})


def test_every_matcher_of_a_rule_is_compiled_and_checked() -> None:
    rule = IgnoreRule.model_validate({"text": "a", "regex": "a", "json": "{{any}}"})
    assert [item.kind.name for item in rule.written_matchers()] == ["text", "regex", "json"]
    compiled = matching.compile_matcher(rule)
    assert len(compiled.checks) == 3
    assert not compiled.match("b").ok


@pytest.mark.parametrize("code", [1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 999])
def test_close_codes_the_client_refuses_are_refused_at_their_line(
    tmp_path: Path, code: int
) -> None:
    path = tmp_path / "close.yaml"
    path.write_text(
        f"name: c\nsteps:\n  - connect: ws://127.0.0.1:1/\n  - close: {{code: {code}}}\n",
        encoding="utf-8",
    )
    errors = validate_paths([path])
    assert [(e.location.line, e.location.column) for e in errors if e.location] == [(4, 19)]
    assert f"close code {code} cannot be sent" in errors[0].message


def test_a_close_reason_over_123_bytes_is_refused() -> None:
    from runner.scenario.steps import CloseStep

    CloseStep.model_validate({"kind": "close", "reason": "é" * 61})
    with pytest.raises(ValueError, match="over 123 UTF-8 bytes"):
        CloseStep.model_validate({"kind": "close", "reason": "é" * 62})


def test_the_readme_shows_a_real_step_kind() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Adding a step kind or a matcher", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    source = "\n".join(
        (root / "runner" / part).read_text(encoding="utf-8")
        for part in ("scenario/steps.py", "executor/expect.py")
    )
    missing = [line for line in snippet.splitlines() if line.strip() and line not in source]
    assert missing == []
