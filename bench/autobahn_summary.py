"""Print the Autobahn verdicts per section for raw websocket-client and for the client core.

Run from the repository root::

    python -m bench.autobahn_summary                 # sections 1-10, every driver
    python -m bench.autobahn_summary -d core -c 6.* --details

Drivers: ``raw`` is websocket-client closing with 1002/1007 on its protocol/payload exceptions
(a careful user), ``raw-naive`` closes with websocket-client's default 1000, ``core`` is
`runner.client`. Everything runs on 127.0.0.1; each run stops its fuzzing server when done.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Sequence

from tests.autobahn.harness import CORE_SECTIONS, Driver, SuiteRun, Verdict, run_suite

__all__ = ["main"]

_COLUMNS = ("OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "other")


def _raw() -> Driver:
    from tests.autobahn.raw_driver import RawDriver

    return RawDriver(fail_codes=True)


def _raw_naive() -> Driver:
    from tests.autobahn.raw_driver import RawDriver

    return RawDriver(fail_codes=False)


def _core() -> Driver:
    from tests.autobahn.core_driver import CoreDriver

    return CoreDriver()


DRIVERS: dict[str, Callable[[], Driver]] = {"raw": _raw, "raw-naive": _raw_naive, "core": _core}


def _sections(verdicts: list[Verdict]) -> dict[str, list[Verdict]]:
    sections: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        sections.setdefault(verdict.section, []).append(verdict)
    return sections


def _row(section: str, verdicts: list[Verdict]) -> str:
    behavior = Counter(v.behavior if v.behavior in _COLUMNS else "other" for v in verdicts)
    bad_close = sum(v.behavior_close not in ("OK", "INFORMATIONAL") for v in verdicts)
    wall = sum(v.wall_s for v in verdicts)
    cells = "".join(f"{behavior[c]:>14}" for c in _COLUMNS)
    return f"{section:>7}{len(verdicts):>7}{cells}{bad_close:>12}{wall:>9.2f}"


def _table(run: SuiteRun) -> str:
    header = f"{'section':>7}{'cases':>7}" + "".join(f"{c:>14}" for c in _COLUMNS)
    lines = [header + f"{'close!=OK':>12}{'wall s':>9}"]
    lines += [_row(s, vs) for s, vs in _sections(run.verdicts).items()]
    lines.append(_row("all", run.verdicts))
    return "\n".join(lines)


def _offenders(run: SuiteRun, details: bool) -> str:
    offenders = run.offenders()
    if not offenders:
        return "every case conforms"
    if details:
        return "\n".join(v.details() for v in offenders)
    return "\n".join(
        f"  {v.case_id:<8} behavior {v.behavior:<13} close {v.behavior_close:<12} "
        f"client close code {v.client_close_code}"
        + (f"  [{v.driver_error}]" if v.driver_error else "")
        for v in offenders
    )


def _report(name: str, run: SuiteRun, details: bool) -> None:
    print(f"\n== {name}: {len(run.verdicts)} cases in {run.wall_s:.1f} s")
    if run.run_error:
        print(f"driver error: {run.run_error}")
    print(_table(run))
    print(f"non-conforming ({len(run.offenders())}):")
    print(_offenders(run, details))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected drivers over the selected cases; exit 1 if any case does not conform."""
    parser = argparse.ArgumentParser(prog="python -m bench.autobahn_summary", description=__doc__)
    parser.add_argument("-d", "--driver", action="append", choices=sorted(DRIVERS))
    parser.add_argument("-c", "--case", action="append", help="case id or glob (default: 1-10)")
    parser.add_argument("--details", action="store_true", help="expected vs observed per case")
    parser.add_argument("--case-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    cases = args.case or list(CORE_SECTIONS)
    worst = 0
    for name in args.driver or ["raw-naive", "raw", "core"]:
        run = run_suite(DRIVERS[name](), cases, case_timeout=args.case_timeout)
        _report(name, run, args.details)
        worst = max(worst, int(bool(run.offenders() or run.run_error)))
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
