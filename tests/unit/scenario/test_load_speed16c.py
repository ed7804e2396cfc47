"""Loading speed, third round (issue 15, helper C of 2026-12-01): what loading a file of many
plain steps no longer does for each step.

- The variables' check (`checks._check_scope`) no longer dumps a step whose written fields are
  plain scalars (`checks._written_scalars`): their strings holding ``${`` are checked directly;
  the dump still decides for any other step, so what is reported is the same.
- A step written the common way (``send: hello``, ``expect: {text: hello}``) is made canonical
  in one call (`canonical._common`); any other goes through `_canonical` as before.
- An `expect` step's "at least one matcher" check (`MatcherFields._require_matcher`) builds no
  `Written` for each matcher.

Call counts, not times: they do not depend on the machine's load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.errors import ScenarioErrors
from runner.scenario import canonical, checks, load_suite, matchers, source
from runner.scenario.diagnostics import value_at
from runner.scenario.steps_flow import RepeatStep
from tests.unit.scenario.helpers import messages, write

ROOT = Path(__file__).resolve().parents[3]

PAIRS = 200


def _pairs(folder: Path) -> Path:
    lines = ["name: pairs", "steps:", '  - connect: {url: "ws://127.0.0.1:9/"}']
    for i in range(PAIRS):
        lines += [f"  - send: m{i}", f"  - expect: {{text: m{i}}}"]
    lines.append("  - close")
    return write(folder, "pairs.yaml", "\n".join(lines) + "\n")


def _count(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls = [0]
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_plain_steps_are_not_dumped_for_the_variables_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumps = _count(monkeypatch, checks, "_templated")
    suite = load_suite([_pairs(tmp_path)])
    assert len(suite.scenarios[0].steps) == 2 * PAIRS + 2
    assert dumps[0] == 0  # before: one dump and repr per step (402)


def test_templated_scalars_are_checked_without_dumps_and_the_rest_through_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumps = _count(monkeypatch, checks, "_templated")
    text = """
        name: t
        vars: {known: 1}
        steps:
          - connect: {url: "ws://127.0.0.1:9/"}
          - send: "${known}"
          - send: "${unknown}"
          - expect: {json: {a: "${missing}"}}
          - expect: {json: {a: 1}}
          - send: plain
    """
    assert messages(tmp_path, text) == [
        "6:11: unknown variable 'unknown' (did you mean 'known'?)",
        "7:24: unknown variable 'missing'",
    ]
    assert dumps[0] == 2  # the two steps holding a mapping; before: five, then four


TEMPLATED = """
name: templated
vars: {known: 1}
steps:
  - connect: {url: "ws://${host}/", name: "${label}"}
  - send: "${known} ${unknown}"
  - expect: {text: "${gone}", timeout: "${wait}"}
  - expect: {regex: "(?P<word>${pattern})"}
  - send: "${word}"
  - expect_none: {text: a, for: "${quiet}"}
  - close: {code: "${code}", reason: "${why:-bye}"}
  - sleep: "${nap}"
  - send: {text: "${bad", conn: default}
"""


def test_the_errors_of_templated_steps_are_those_of_the_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = messages(tmp_path, TEMPLATED)
    monkeypatch.setattr(checks, "_written_scalars", lambda step: None)
    slow = messages(tmp_path, TEMPLATED)
    assert fast == slow
    assert len(fast) >= 8, fast  # host, label, unknown, gone, wait, pattern, quiet, code, nap...


def _steps(steps: list[Any]) -> list[Any]:
    found = []
    for step in steps:
        found.append(step)
        if isinstance(step, RepeatStep):
            found.extend(_steps(step.steps))
    return found


def test_the_shortcut_finds_the_templated_strings_the_dump_holds(tmp_path: Path) -> None:
    """Over every example scenario and a file of templated fields: where the shortcut answers,
    its strings are exactly the dump's strings holding ``${``, with their keys, in order."""
    suites = [load_suite([ROOT / "scenarios"])]
    suites.append(
        load_suite(
            [write(tmp_path, "t.yaml", TEMPLATED.replace("${bad", "bad"))],
            {
                "host": "h",
                "label": "l",
                "unknown": "u",
                "gone": "g",
                "wait": "1s",
                "pattern": "p",
                "quiet": "1s",
                "code": "1000",
                "nap": "1ms",
            },
        )
    )
    answered = dumped = templated = 0
    for suite in suites:
        for scenario in suite.scenarios:
            for step in _steps(scenario.steps):
                texts = checks._written_scalars(step)
                if texts is None:
                    dumped += 1
                    continue
                answered += 1
                data = step.model_dump(by_alias=True, exclude_unset=True, warnings=False)
                expected = [(f[0], t) for f, t in checks._strings(data, ()) if "${" in t]
                assert list(texts) == expected, step
                templated += bool(texts)
    assert answered > 50 and dumped > 50 and templated >= 8


def test_the_matcher_check_builds_no_written_matchers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _count(monkeypatch, matchers, "Written")
    load_suite([_pairs(tmp_path)])
    assert built[0] == 0  # before: one per expect step (200)


def test_an_expect_without_matcher_is_still_refused(tmp_path: Path) -> None:
    text = """
        name: t
        steps:
          - connect: {url: "ws://127.0.0.1:9/"}
          - expect: {timeout: 1s}
          - expect: {text: a, not: {}}
    """
    names = "text, regex, json, jsonpath, binary, contains, json_schema, text_json, not, any_of"
    assert messages(tmp_path, text) == [
        f"4:13: expected at least one matcher: {names}",
        f"5:28: expected at least one matcher: {names}",
    ]


def test_common_steps_are_made_canonical_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = _count(monkeypatch, canonical, "_step")
    load_suite([_pairs(tmp_path)])
    assert slow[0] == 1  # the bare `close` only; before: every step (402)


def _yaml_files() -> list[Path]:
    found = sorted((ROOT / "scenarios").rglob("*.yaml")) + sorted(
        (ROOT / "tests" / "data").rglob("*.yaml")
    )
    return [path for path in found if "node_modules" not in path.parts]


def _every_steps_list(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every list under a `steps` key (scenarios, blocks, loops)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "steps" and isinstance(item, list):
                found.append((*path, key))
            found.extend(_every_steps_list(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_every_steps_list(item, (*path, index)))
    return found


def test_the_one_call_gives_what_the_step_by_step_reading_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every steps list of every example and bad file: the same canonical steps, in the same key
    order, and the same errors, with the common way and without it."""
    lists = 0
    for file in _yaml_files():
        try:
            document = source.read_document(file)
        except ScenarioErrors:
            continue  # not YAML: no steps to read
        for path in _every_steps_list(document.value):
            fast_errors: list[Any] = []
            steps = value_at(document.value, path)  # a list (`_every_steps_list`)
            fast = list(canonical.canonical_items(document, path, steps, fast_errors))
            with monkeypatch.context() as patched:
                patched.setattr(canonical, "_common", lambda step: None)
                slow_errors: list[Any] = []
                slow = list(canonical.canonical_items(document, path, steps, slow_errors))
            assert fast == slow, (file, path)
            assert [list(step) for step in fast] == [list(step) for step in slow], (file, path)
            assert [str(e) for e in fast_errors] == [str(e) for e in slow_errors], (file, path)
            lists += 1
    assert lists > 50
