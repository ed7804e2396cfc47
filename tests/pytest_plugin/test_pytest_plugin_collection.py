"""The pytest plugin's collection, through real pytest runs (``--collect-only``, no service):
inert until asked, one item per scenario row at its YAML line, tags as marks, the same ids every
time, wsrun's own errors, and no global state touched."""

from __future__ import annotations

import json
from pathlib import Path

from runner.pytest_plugin import SUITE_FILE_NAME, is_scenario_file
from runner.scenario import SUITE_FILE_NAME as LANGUAGE_SUITE_FILE_NAME
from tests.pytest_plugin.projects import ECHO, FAILING, SUITE, collected, project, run_pytest

PLAIN_TEST = "def test_plain():\n    pass\n"

#: A scenario outside the scenario folders, found by its name alone.
FOUND = """\
name: found
vars: {base_url: "ws://127.0.0.1:9"}
steps:
  - connect: "${base_url}/echo"
"""

#: Writes what pytest collected (id, location, marks) to collected.json.
RECORDER = """\
import json

def pytest_collection_finish(session):
    items = [
        {"id": i.nodeid, "location": list(i.location),
         "marks": sorted(m.name for m in i.iter_markers())}
        for i in session.items
    ]
    with open("collected.json", "w") as out:
        json.dump(items, out)
"""

ECHO_ROWS = ["scen/echo.yaml::echo[${uuid()}]", "scen/echo.yaml::echo[hello]"]


def test_the_plugin_collects_only_what_it_is_asked_to(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "scen/wsrun-suite.yaml": SUITE,
            "scen/echo.yaml": ECHO,
            "other/found.wsrun.yaml": FOUND,
            "other/plain.yaml": "just: data\n",
            "tests/test_plain.py": PLAIN_TEST,
        },
    )
    bare = run_pytest(root, "--collect-only", "-q")
    assert collected(bare) == ["other/found.wsrun.yaml::found", "tests/test_plain.py::test_plain"]
    asked = run_pytest(root, "--collect-only", "-q", "--wsrun", "scen")
    assert collected(asked) == ECHO_ROWS  # --wsrun alone: pytest looks there only
    listed = run_pytest(
        root, "--collect-only", "-q", "-o", "testpaths=tests", "-o", "wsrun_paths=scen"
    )
    assert collected(listed) == ["tests/test_plain.py::test_plain", *ECHO_ROWS]
    assert not (root / "scen" / "serve.log").exists()  # collection starts no service


def test_items_are_scenario_rows_at_their_lines_with_tags_as_marks(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "conftest.py": RECORDER,
            "scen/wsrun-suite.yaml": SUITE,
            "scen/echo.yaml": ECHO,
            "scen/failing.yaml": FAILING,
            "scen/lib/blocks.yaml": "blocks:\n  hello:\n    steps:\n      - send: hello\n",
        },
    )
    first = run_pytest(root, "--collect-only", "-q", "--wsrun", "scen")
    assert first.returncode == 0, first.stdout + first.stderr
    items = json.loads((root / "collected.json").read_text())
    assert items == [
        {"id": ECHO_ROWS[0], "location": ["scen/echo.yaml", 0, "echo[${uuid()}]"],
         "marks": ["smoke", "wsrun"]},
        {"id": ECHO_ROWS[1], "location": ["scen/echo.yaml", 0, "echo[hello]"],
         "marks": ["smoke", "wsrun"]},
        {"id": "scen/failing.yaml::failing echo",
         "location": ["scen/failing.yaml", 1, "failing echo"],
         "marks": ["slow-net", "smoke", "wsrun"]},
    ]  # fmt: skip
    again = run_pytest(root, "--collect-only", "-q", "--wsrun", "scen")
    assert collected(again) == collected(first)  # what every xdist worker must see
    selected = run_pytest(
        root, "--collect-only", "-q", "--wsrun", "scen", "--strict-markers",
        "-m", "smoke and not slow-net", "-k", "hello",
    )  # fmt: skip
    assert selected.returncode == 0, selected.stdout + selected.stderr
    assert collected(selected) == [ECHO_ROWS[1]]


def test_a_scenario_file_with_errors_fails_collection_with_wsrun_errors(tmp_path: Path) -> None:
    bad = "name: bad\nsteps:\n  - connect: ws://127.0.0.1:9\n  - sned: hello\n"
    root = project(tmp_path, {"scen/bad.yaml": bad})
    result = run_pytest(root, "--collect-only", "-q", "--wsrun", "scen")
    assert result.returncode == 2  # pytest's "interrupted": errors during collection
    assert "ERROR collecting scen/bad.yaml" in result.stdout
    assert "scen/bad.yaml:4:5: unknown step kind 'sned'" in result.stdout
    assert "Traceback" not in result.stdout


#: Checks, in the same run as the plugin's collection, that YAML and logging are as they were.
STATE_CONFTEST = """\
import copy, logging, yaml

def handlers():  # pytest's own come and go around each test
    return [h for h in logging.root.handlers if not type(h).__module__.startswith("_pytest")]

BEFORE = (
    copy.deepcopy(yaml.SafeLoader.yaml_implicit_resolvers),
    dict(yaml.SafeLoader.yaml_constructors),
    handlers(),
    logging.root.level,
)
"""

STATE_TEST = """\
import copy, logging, yaml
from conftest import BEFORE, handlers

def test_yaml_and_logging_are_untouched():
    assert yaml.safe_load("empty:\\n") == {"empty": None}
    assert yaml.safe_load("on: yes") == {True: True}  # YAML 1.1 stays YAML 1.1 for others
    now = (
        copy.deepcopy(yaml.SafeLoader.yaml_implicit_resolvers),
        dict(yaml.SafeLoader.yaml_constructors),
        handlers(),
        logging.root.level,
    )
    assert now == BEFORE
"""


def test_collecting_scenarios_changes_no_global_state(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "conftest.py": STATE_CONFTEST,
            "tests/test_state.py": STATE_TEST,
            "scen/wsrun-suite.yaml": SUITE,
            "scen/echo.yaml": ECHO,
            "scen/failing.yaml": FAILING,
        },
        'pythonpath = ["."]',
    )
    result = run_pytest(root, "tests/test_state.py", "--wsrun", "scen", "-k", "untouched")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 3 deselected" in result.stdout


def test_which_files_are_scenarios(tmp_path: Path) -> None:
    roots = [tmp_path / "scen"]
    assert is_scenario_file(tmp_path / "scen" / "a.yaml", roots)
    assert is_scenario_file(tmp_path / "scen" / "deep" / "b.yml", roots)
    assert not is_scenario_file(tmp_path / "scen" / ".hidden" / "c.yaml", roots)
    assert not is_scenario_file(tmp_path / "scen" / SUITE_FILE_NAME, roots)
    assert not is_scenario_file(tmp_path / "scen" / "notes.txt", roots)
    assert not is_scenario_file(tmp_path / "other" / "d.yaml", roots)
    assert is_scenario_file(tmp_path / "other" / "d.wsrun.yaml", roots)
    assert is_scenario_file(tmp_path / "other" / "d.wsrun.yaml", [])
    assert SUITE_FILE_NAME == LANGUAGE_SUITE_FILE_NAME


LIGHT_TEST = """\
import sys

def test_wsrun_is_not_loaded():
    assert "runner.pytest_plugin" in sys.modules  # the plugin is there
    loaded = [m for m in ("runner.executor", "runner.scenario", "pydantic") if m in sys.modules]
    assert loaded == []  # but what runs scenarios is not imported
"""


def test_a_run_without_scenarios_imports_nothing_of_wsrun_but_the_plugin(tmp_path: Path) -> None:
    root = project(tmp_path, {"tests/test_light.py": LIGHT_TEST, "data/config.yaml": "a: 1\n"})
    result = run_pytest(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
