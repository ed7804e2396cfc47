"""wsrun's pytest plugin: YAML scenarios as pytest items, one per scenario and parametrize row.

Installed with wsrun as the ``wsrun`` `pytest11` entry point, it stays inert until asked: it
collects the YAML files under the paths of ``--wsrun PATH`` or of the ini option
``wsrun_paths``, and files named ``*.wsrun.yaml`` wherever pytest looks. It changes no global
state (no YAML, logging or warnings setting): wsrun's own loader reads the files. Importing it
costs nothing; the scenario language and the executor are imported once a file qualifies.

``--wsrun PATH`` is also where pytest looks: with no other path on the command line, pytest
collects only those (not its `testpaths`); ``wsrun_paths`` are added to what a bare ``pytest``
collects.

Modules: `items` (a file's scenarios as items: marks, location, steps as subtests, the failure
block), `services` (the suite services of a run, started once, also under pytest-xdist).
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["is_scenario_file"]

#: Files with these endings are scenarios wherever pytest finds them.
SCENARIO_SUFFIXES = (".wsrun.yaml", ".wsrun.yml")

#: `runner.scenario.SUITE_FILE_NAME`, spelled here so that importing the plugin imports nothing of
#: the language (a test checks they agree).
SUITE_FILE_NAME = "wsrun-suite.yaml"

_ROOTS = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsrun", "wsrun scenarios")
    group.addoption(
        "--wsrun",
        action="append",
        default=[],
        metavar="PATH",
        dest="wsrun_paths",
        help="collect the wsrun scenarios of PATH (a YAML file or a folder); repeatable",
    )
    parser.addini(
        "wsrun_paths",
        type="paths",
        default=[],
        help="folders and files whose YAML files are wsrun scenarios",
    )


def pytest_configure(config: pytest.Config) -> None:
    given = [str(p) for p in config.getoption("wsrun_paths")]
    listed: list[Path] = list(config.getini("wsrun_paths"))
    here = config.invocation_params.dir
    config.stash[_ROOTS] = [(here / p).resolve() for p in given] + [p.resolve() for p in listed]
    _collect_also(config, given, [str(p) for p in listed])
    from runner.pytest_plugin.services import RunServices

    config.pluginmanager.register(RunServices(config), RunServices.NAME)


def _collect_also(config: pytest.Config, given: list[str], listed: list[str]) -> None:
    """Make pytest look where the scenarios are: ``--wsrun`` paths instead of the default
    ones (beside the paths given on the command line), ini paths beside the default ones."""
    explicit = config.args_source is pytest.Config.ArgsSource.ARGS
    if given:
        config.args = [*config.args, *given] if explicit else given
    elif listed and not explicit:
        known = [Path(a).resolve() for a in config.args]
        more = [p for p in listed if not _under(Path(p).resolve(), known)]
        config.args = [*config.args, *more]


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def is_scenario_file(path: Path, roots: list[Path]) -> bool:
    """Whether pytest should collect `path` as a wsrun scenario file.

    A ``*.wsrun.yaml`` file is one anywhere; any other YAML file only under one of `roots`
    (outside hidden folders), the suite file (`wsrun-suite.yaml`) excepted.
    """
    name = path.name
    if not name.endswith((".yaml", ".yml")) or name == SUITE_FILE_NAME:
        return False
    if name.endswith(SCENARIO_SUFFIXES):
        return True
    resolved = path.resolve()
    for root in roots:
        if resolved == root:
            return True
        if root in resolved.parents:
            parts = resolved.relative_to(root).parts[:-1]
            if not any(part.startswith(".") for part in parts):
                return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not file_path.name.endswith((".yaml", ".yml")):
        return None  # the common case, decided before anything else
    if not is_scenario_file(file_path, parent.config.stash.get(_ROOTS, [])):
        return None
    from runner.pytest_plugin.items import ScenarioFile

    return ScenarioFile.from_parent(parent, path=file_path)


def scenario_roots(config: pytest.Config) -> list[Path]:
    """The resolved ``--wsrun`` and ``wsrun_paths`` paths of this run."""
    return config.stash.get(_ROOTS, [])
