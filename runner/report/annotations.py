"""CI annotations: each failure as a GitHub Actions ``::error`` workflow command.

Under GitHub Actions (``GITHUB_ACTIONS=true``) or with ``--annotations github``, the CLI adds
this reporter. At the end of the run it prints one line per failed scenario (here cut)::

    ::error file=scenarios/chat.yaml,line=12,col=5,title=wsrun%3A chat%3A failed (…)::no message…

GitHub hides the line from the log and shows the failure on the pull request's diff, at the
failing step's line (the scenario's own line when the failure is outside a step). The message
is the console's failure details without the transcript (message, expected, closest, diff),
cut to `MAX_LINES` lines and `MAX_CHARS` characters. The path is relative to
``GITHUB_WORKSPACE`` (the repository) when the file is inside it, else to the nearest folder
above it holding ``.git``, else as the run shows it. Values are escaped as the workflow
commands require (`escape_data`, `escape_property`); secrets are masked before escaping.
GitHub shows only the first `SHOWN_PER_STEP` error annotations of a step: past them, a
``::warning`` line says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from runner.events import Event, Failure, ScenarioEnded, ScenarioStarted, Status
from runner.report.text import failure_lines

__all__ = [
    "MAX_CHARS",
    "MAX_LINES",
    "SHOWN_PER_STEP",
    "GithubAnnotations",
    "annotations_wanted",
    "escape_data",
    "escape_property",
    "github_path",
]

MAX_LINES = 20
#: How many ``::error`` annotations of one step GitHub shows (and 50 per job); see the
#: limitations in actions/toolkit's docs/problem-matchers.md.
SHOWN_PER_STEP = 10
MAX_CHARS = 4000

_DATA = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A"})
_PROPERTY = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A", ":": "%3A", ",": "%2C"})


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (actions/toolkit `escapeData`)."""
    return text.translate(_DATA)


def escape_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,`` (`escapeProperty`)."""
    return text.translate(_PROPERTY)


def annotations_wanted(option: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to annotate: ``--annotations github`` or ``none``, else under GitHub Actions."""
    if option is not None:
        return option == "github"
    return environ.get("GITHUB_ACTIONS", "").lower() == "true"


def github_path(file: str, environ: Mapping[str, str] = os.environ) -> str:
    """`file` as GitHub wants it in an annotation: relative to the repository, POSIX."""
    resolved = Path(file).resolve()
    workspace = environ.get("GITHUB_WORKSPACE")
    roots = [Path(workspace).resolve()] if workspace else []
    roots += [p for p in resolved.parents if (p / ".git").exists()][:1]
    for root in roots:
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return Path(file).as_posix()


class GithubAnnotations:
    """A reporter that prints an ``::error`` line per failed scenario on `close()`.

    Args:
        write: prints one line (the CLI's console).
        redact: masks secrets in a text (`runner.report.redaction.Redactor.text`).
        environ: where ``GITHUB_WORKSPACE`` is read (the process's environment).
    """

    def __init__(
        self,
        write: Callable[[str], None],
        redact: Callable[[str], str] | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._write = write
        self._redact = redact or (lambda text: text)
        self._environ = environ
        self._started: dict[int, ScenarioStarted] = {}
        self._failed: list[ScenarioEnded] = []

    def __call__(self, event: Event) -> None:
        """Take in one event (an `EventBus` listener)."""
        if isinstance(event, ScenarioStarted):
            self._started[event.scenario] = event
        elif isinstance(event, ScenarioEnded) and event.status in (Status.FAILED, Status.ERROR):
            self._failed.append(event)

    def close(self) -> None:
        """Print the annotations, in the run's order of scenarios; past `SHOWN_PER_STEP`, a
        warning says that GitHub shows no more (the lines are printed all the same)."""
        lines = [self.annotation(e) for e in sorted(self._failed, key=lambda e: e.scenario)]
        printed = [line for line in lines if line is not None]
        for line in printed:
            self._write(line)
        if len(printed) > SHOWN_PER_STEP:
            self._write(
                f"::warning title=wsrun%3A {len(printed)} failures::GitHub shows the first "
                f"{SHOWN_PER_STEP} error annotations of a step: the JUnit and HTML reports "
                "and the log above hold every failure"
            )

    def annotation(self, ended: ScenarioEnded) -> str | None:
        """The ``::error`` line of a failed scenario (None when nothing places it in a file)."""
        started = self._started.get(ended.scenario)
        failure = ended.failure or Failure(message=ended.status.value)
        place = _place(failure.location)
        if place is None:
            if started is None:
                return None
            place = (started.file, started.line, None)
        file, line, column = place
        verdict = "failed" if ended.status is Status.FAILED else "error"
        title = f"wsrun: {ended.name}: {verdict}"
        if failure.step is not None:
            on = f" on {failure.conn}" if failure.conn else ""
            title += f" (step {failure.step + 1}, {failure.kind}{on})"
        properties = {"file": github_path(file, self._environ), "line": str(line)}
        if column is not None:
            properties["col"] = str(column)
        properties["title"] = title
        shown = ",".join(
            f"{key}={escape_property(self._redact(value))}" for key, value in properties.items()
        )
        base = started.at if started is not None else 0.0
        return f"::error {shown}::{escape_data(self._redact(_message(failure, base)))}"


def _place(location: str | None) -> tuple[str, int, int | None] | None:
    """``file:line:col`` (or ``file:line``) split; None when it is not one."""
    if not location:
        return None
    parts = location.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    file, _, line = location.rpartition(":")
    return (file, int(line), None) if file and line.isdigit() else None


def _message(failure: Failure, base: float) -> str:
    lines = [
        line.text
        for line in failure_lines(failure, base, limit=300)
        if line.tag != "frame"
        and not (line.tag == "info" and line.text.startswith(("at ", "last frames on ")))
    ]
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 1], f"… ({len(lines) - MAX_LINES + 1} more lines)"]
    text = "\n".join(lines)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
