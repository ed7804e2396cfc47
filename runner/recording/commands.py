"""The `wsrun import` and `wsrun record` subcommands: their parsers and their work.

The CLI owns the console; these functions print through `out(text, style)`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rest is imported on use: `wsrun --version` stays fast
    from runner.recording.session import Session
    from runner.recording.to_scenario import Draft

__all__ = ["Out", "add_parsers", "run_command", "write_scenario"]

Out = Callable[[str, str], None]  # (text, style)


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `import` and `record` to the subcommands of `wsrun`."""
    har = commands.add_parser(
        "import", help="turn the WebSocket sessions of a HAR file into a scenario"
    )
    har.add_argument("har", metavar="FILE.har", help="a HAR file (Chrome, Edge, mitmproxy, ...)")
    har.add_argument("--only", metavar="URL-GLOB", help="only WebSocket entries whose URL matches")
    _add_out(har)
    record = commands.add_parser(
        "record",
        help="record a session as a scenario: interactively (URL) or as a proxy (--listen)",
    )
    record.add_argument("url", nargs="?", metavar="URL", help="the ws:// or wss:// URL to talk to")
    record.add_argument("--listen", metavar="[HOST]:PORT", help="run a recording proxy here")
    record.add_argument(
        "--upstream", metavar="URL", help="with --listen: the service to forward to"
    )
    _add_out(record)


def _add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="the scenario file (default: stdout)"
    )
    parser.add_argument("--no-color", action="store_true", help="plain output, no colours")


def run_command(args: argparse.Namespace, out: Out) -> int:
    """Run `import` or `record`; return the exit code (0, 1 failed, 2 usage)."""
    if args.command == "import":
        return _import(args, out)
    if args.listen:
        from runner.recording.proxy import run_proxy

        if not args.upstream or args.url:
            out("wsrun record: --listen needs --upstream URL, and no URL of its own", "red")
            return 2
        return run_proxy(args.listen, args.upstream, args.output, out)
    if not args.url or args.upstream:
        out("wsrun record: give a URL, or --listen [HOST]:PORT --upstream URL", "red")
        return 2
    from runner.recording.interactive import run_interactive

    return run_interactive(args.url, args.output, out)


def _import(args: argparse.Namespace, out: Out) -> int:
    from runner.recording.har import HarError, read_har

    source = Path(args.har)
    try:
        imported = read_har(source, args.only)
    except HarError as error:
        out(f"wsrun import: {error}", "red")
        return 2
    note = _noting(out, args.output)
    for warning in imported.warnings:
        note(f"warning: {warning}", "yellow")
    if not imported.websockets:
        left = f" ({imported.skipped} left out by --only)" if imported.skipped else ""
        out(f"wsrun import: {source} has no WebSocket entry{left}", "red")
        return 2
    header = f"Imported by wsrun import from {source.name}: review before use."
    return write_scenario(imported.session, source.stem, header, args.output, out)


def write_scenario(session: Session, name: str, header: str, output: str | None, out: Out) -> int:
    """Write the scenario of `session` to `output` (stdout when None), checked by the loader."""
    from runner.recording.to_scenario import scenario_text

    draft = scenario_text(session, name, header)
    problems = _validate(draft, output)
    if output:
        Path(output).write_text(draft.text, encoding="utf-8")
    else:
        out(draft.text.rstrip("\n"), "")
    where, note = output or "stdout", _noting(out, output)
    conns = len(session.connections)
    note(f"wrote {where}: {conns} connection{'s' * (conns != 1)}, {draft.steps} steps", "green")
    if draft.env:
        note(f"set before running it: {', '.join(draft.env)}", "yellow")
    for problem in problems:
        note(f"error: the scenario written is not valid (a bug in wsrun): {problem}", "red")
    return 1 if problems else 0


def _noting(out: Out, output: str | None) -> Out:
    """`out`, or, when the scenario goes to stdout, `out` of YAML comments (so that
    `wsrun import s.har > s.yaml` writes a valid file)."""
    if output:
        return out
    return lambda text, style: out("\n".join(f"# {line}" for line in text.splitlines()), style)


def _validate(draft: Draft, output: str | None) -> list[str]:
    import tempfile

    from runner.scenario import validate_paths

    with tempfile.TemporaryDirectory(prefix="wsrun-record-") as folder:
        path = Path(folder) / (Path(output).name if output else "recorded.yaml")
        path.write_text(draft.text, encoding="utf-8")
        return [str(error) for error in validate_paths([path])]
