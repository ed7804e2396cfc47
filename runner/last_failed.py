"""``--last-failed``: remember which scenarios failed, and run only those next time.

As pytest's ``--lf`` does, every ``wsrun run`` records its failures in a small cache file,
`CACHE_FILE` (``.wsrun_cache/lastfailed``) in the working folder: a JSON object whose keys are
the ids of the scenarios that failed (`runner.executor.selection.scenario_id`). A run updates
it for the scenarios it ran: one that failed (or could not connect) is added, one that passed
is removed; skipped and interrupted scenarios, and scenarios not selected, keep their entry
(but an entry whose file is named by an absolute path, outside any project, goes when the file
is gone: scenarios of temporary folders would pile up).
The file is written atomically, only when it changes (a run of passing scenarios that never
failed creates nothing); the folder gets a ``.gitignore`` of ``*`` and a ``CACHEDIR.TAG``, so
neither git nor backups take it. A cache that cannot be read counts as empty; one that cannot
be written is said on stderr, and the run's exit code does not change.

``wsrun run --last-failed`` runs the selected scenarios (``-k``, ``--tag``...) that the cache
names; when it names none of them (the last run had no failure, or its failures are not
selected), it runs all the selected scenarios, and says so.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from runner.events import Event, ScenarioEnded, Status
from runner.executor.selection import Identified, scenario_ids
from runner.report.files import write_atomically

__all__ = ["CACHE_DIR", "CACHE_FILE", "LastFailedRecorder", "only_last_failed", "read_last_failed"]

CACHE_DIR = ".wsrun_cache"
CACHE_FILE = f"{CACHE_DIR}/lastfailed"

_GITIGNORE = "# Created by wsrun automatically.\n*\n"
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by wsrun.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)

IdentifiedT = TypeVar("IdentifiedT", bound=Identified)


def read_last_failed(path: str | os.PathLike[str] = CACHE_FILE) -> set[str]:
    """The ids the cache at `path` names (none when it is missing or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict):
        return set()
    return {key for key, value in data.items() if isinstance(key, str) and value}


def only_last_failed(
    scenarios: Sequence[IdentifiedT], failed: set[str]
) -> tuple[list[IdentifiedT], str]:
    """The scenarios among `scenarios` that `failed` names, and a line saying what runs.

    When it names none of them, all of `scenarios`, and the line says why.
    """
    chosen = [s for s, i in zip(scenarios, scenario_ids(scenarios), strict=True) if i in failed]
    total = len(scenarios)
    if chosen:
        noun = "scenario" if len(chosen) == 1 else "scenarios"
        return chosen, (
            f"--last-failed: running the {len(chosen)} {noun} that failed last time "
            f"({total - len(chosen)} of the {total} selected left out)"
        )
    every = f"running all {total} selected" if total != 1 else "running the 1 selected"
    if not failed:
        return list(scenarios), f"--last-failed: no failure recorded in {CACHE_FILE}: {every}"
    noun = "failure" if len(failed) == 1 else "failures"
    return list(scenarios), (
        f"--last-failed: none of the {len(failed)} recorded {noun} is selected: {every}"
    )


class LastFailedRecorder:
    """A reporter that updates the cache with the run's results on `close()`."""

    def __init__(
        self, scenarios: Sequence[Identified], path: str | os.PathLike[str] = CACHE_FILE
    ) -> None:
        self.path = Path(path)
        self._ids = scenario_ids(scenarios)
        self._results: dict[str, Status] = {}
        self.events = frozenset({ScenarioEnded})  # the bus gives it nothing else

    def __call__(self, event: Event) -> None:
        """Take in one event (an `EventBus` listener)."""
        if isinstance(event, ScenarioEnded) and 0 <= event.scenario < len(self._ids):
            self._results[self._ids[event.scenario]] = event.status

    def close(self) -> None:
        """Write the updated cache if it changed; say on stderr when it cannot be written."""
        before = read_last_failed(self.path)
        after = set(before)
        for scenario_id, status in self._results.items():
            if status in (Status.FAILED, Status.ERROR):
                after.add(scenario_id)
            elif status is Status.PASSED:
                after.discard(scenario_id)
        after -= {i for i in after if _file_is_gone(i)}
        if after == before:
            return
        try:
            self._write(after)
        except OSError as error:
            _warn(f"wsrun: warning: cannot write the --last-failed cache {self.path}: {error}")

    def _write(self, failed: set[str]) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            if not (folder / name).exists():
                write_atomically(folder / name, text.encode())
        data = json.dumps(dict.fromkeys(sorted(failed), True), indent=2, ensure_ascii=False)
        write_atomically(self.path, (data + "\n").encode("utf-8"))


def _file_is_gone(scenario_id: str) -> bool:
    """Whether the id names a file by its absolute path (outside any project) that is gone:
    such entries (scenarios of temporary folders) would pile up forever."""
    file = scenario_id.partition("::")[0]
    return os.path.isabs(file) and not os.path.exists(file)


def _warn(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        return
