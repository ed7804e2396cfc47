"""``wsrun load FILE``: the scenario as Locust virtual users, a table per step, thresholds.

Flags that Locust has keep Locust's names and meanings (``--users``, ``--spawn-rate``,
``--master``, ``--expect-workers``, ``--master-bind-port``, ``--worker``, ``--master-host``,
``--master-port``, ``--processes``, ``--csv``); ``--duration`` is Locust's ``--run-time``.
Exit codes: 0 every threshold met (no threshold: no request failed), 1 one was not, 2 bad
input, 130 Ctrl-C. Arguments are checked before Locust is imported (and patches the process).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.load.reporter import SCENARIO, UNEXPECTED
from runner.load.thresholds import Measured, Threshold, ThresholdError, parse_threshold

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.stats import RequestStats

    from runner.load.plan import Plan

__all__ = ["load_main"]

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
#: How long a master waits, after the stop, for each worker's last report (seconds).
LAST_REPORT_WAIT = 10.0
#: How often the end of the test is looked for (seconds).
TICK = 0.2


class _Usage(Exception):
    """Bad input: the message says why (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exits 2 with usage; ours raises
        raise _Usage(message)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``wsrun load``."""
    parser = _Parser(
        prog="wsrun load",
        description="Run a scenario as many Locust virtual users; every step is a request.",
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="the scenario file (or folder)")
    parser.add_argument("-u", "--users", type=_count, default=1, help="virtual users (peak)")
    parser.add_argument(
        "-r", "--spawn-rate", type=_rate, default=1.0, help="users started per second"
    )
    parser.add_argument(
        "-t",
        "--duration",
        "--run-time",
        dest="duration",
        type=_seconds,
        help="stop after this long (e.g. 30s, 2m); default: --iterations, else Ctrl-C",
    )
    parser.add_argument("--iterations", type=_count, help="runs of the scenario per user")
    parser.add_argument(
        "--wait",
        type=_wait,
        default=(0.0, 0.0),
        metavar="MIN..MAX",
        help="pause between a user's iterations: 1s, or 1s..3s (random in that range)",
    )
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        type=_threshold,
        metavar="RULE",
        help="[TYPE:]METRIC<VALUE, e.g. 'expect:p95<150ms', 'errors<1%%' (repeatable)",
    )
    parser.add_argument("--csv", dest="csv_prefix", metavar="PREFIX", help="Locust's CSV files")
    parser.add_argument(
        "--html-report", "--html", dest="html", metavar="FILE", help="Locust's HTML report"
    )
    parser.add_argument("--web", action="store_true", help="Locust's web UI, while it runs")
    parser.add_argument("--web-host", default="", help="the web UI's interface (default all)")
    parser.add_argument("--web-port", type=int, default=8089, help="the web UI's port (8089)")
    parser.add_argument("--master", action="store_true", help="distribute over workers")
    parser.add_argument(
        "--expect-workers",
        type=_count,
        default=1,
        metavar="N",
        help="with --master: start once N workers are connected",
    )
    parser.add_argument("--master-bind-host", default="*", metavar="HOST")
    parser.add_argument("--master-bind-port", type=int, default=5557, metavar="PORT")
    parser.add_argument("--worker", action="store_true", help="run users for a master")
    parser.add_argument("--master-host", default="127.0.0.1", metavar="HOST")
    parser.add_argument("--master-port", type=int, default=5557, metavar="PORT")
    parser.add_argument(
        "--processes",
        type=_count,
        metavar="N",
        help="fork N worker processes, this one their master",
    )
    parser.add_argument(
        "--var", action="append", default=[], metavar="K=V", help="set a variable (repeatable)"
    )
    parser.add_argument("--allow-outside", action="append", default=[], metavar="PATH")
    return parser


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, found {text!r}")
    return int(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a rate above 0, found {text!r}")
    return value


def _seconds(text: str) -> float:
    from runner.scenario.fields import parse_duration

    try:
        value = float(parse_duration(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration above 0, found {text!r}")
    return value


def _wait(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("..")
    first = _seconds(low) if low.strip() not in ("0", "") else 0.0
    second = (_seconds(high) if high.strip() not in ("0", "") else 0.0) if sep else first
    if second < first:
        raise argparse.ArgumentTypeError(f"{text!r}: the longest wait comes second")
    return first, second


def _threshold(text: str) -> Threshold:
    try:
        return parse_threshold(text)
    except ThresholdError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _vars(pairs: Sequence[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise _Usage(f"--var expects NAME=VALUE, found {pair!r}")
        result[key.strip()] = value
    return result


def _check(args: argparse.Namespace) -> None:
    if args.file is None and not args.worker:
        raise _Usage("the scenario FILE is missing")
    if args.master and args.worker:
        raise _Usage("--master and --worker exclude each other")
    if args.processes and (args.master or args.worker):
        raise _Usage(
            "--processes makes this process the master of its own workers: "
            "leave out --master and --worker"
        )
    for option, path in (("--csv", args.csv_prefix), ("--html-report", args.html)):
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder is not None and not os.path.isdir(folder):
            raise _Usage(f"{option} {path}: the folder {folder} does not exist")


def say(text: str) -> None:
    """A line of the command's own output (stdout, flushed: workers' lines interleave)."""
    print(text, flush=True)


def load_main(argv: Sequence[str]) -> int:
    """``wsrun load``; returns the exit code, never raises for bad input."""
    try:
        args = build_parser().parse_args(list(argv))
        _check(args)
        variables = _vars(args.var)
    except _Usage as error:
        print(f"wsrun load: error: {error}", file=sys.stderr)
        return USAGE
    except SystemExit as exit_:  # --help
        return OK if not exit_.code else USAGE
    import locust  # noqa: F401  (patches the standard library with gevent, first)

    try:
        if args.file is None:  # a worker: the master sends the files
            return _worker(args, None, variables)
        plan = _plan(args.file, variables, args.allow_outside)
        if plan is None:
            return USAGE
        return _run(args, plan, variables)
    except KeyboardInterrupt:
        say("interrupted (Ctrl-C)")
        return INTERRUPTED


def _plan(file: str, variables: dict[str, str], allow_outside: Sequence[str]) -> Plan | None:
    """The loaded scenarios; None when they have errors (said, as `wsrun run` says them)."""
    from runner.errors import ScenarioErrors
    from runner.load.plan import load_plan

    try:
        return load_plan([file], variables, allow_outside)
    except ScenarioErrors as errors:
        from runner.cli import make_console
        from runner.report.console import print_scenario_errors

        print_scenario_errors(make_console(no_color=False), errors.errors)
    except (ValueError, OSError) as error:
        print(f"wsrun load: error: {error}", file=sys.stderr)
    return None


def _run(args: argparse.Namespace, plan: Plan, variables: dict[str, str]) -> int:
    from runner.errors import ServiceError

    if not args.master:  # the users' process (with --processes: before it forks)
        try:
            plan.start_services(say)
        except ServiceError as error:
            print(f"wsrun load: error: {error}", file=sys.stderr)
            return USAGE
    children: list[int] = []
    try:
        if args.processes:
            children = _fork_workers(args)
            if args.worker:  # a child
                plan._services.clear()  # the parent's, to stop
                return _worker(args, plan, variables)
        if args.worker:
            return _worker(args, plan, variables)
        return _lead(args, plan, variables)
    finally:
        plan.stop_services()
        for pid in children:  # they quit with the master's test
            os.waitpid(pid, 0)


def _fork_workers(args: argparse.Namespace) -> list[int]:
    """Fork ``--processes`` workers of this process, now their master; return their pids (in a
    child: none, and `args` says it is a worker)."""
    import gevent

    children = []
    for _ in range(args.processes):
        pid = gevent.fork()
        if pid == 0:
            args.worker, args.master_host = True, "127.0.0.1"
            args.master_port = args.master_bind_port
            return []
        children.append(pid)
    args.master, args.expect_workers = True, args.processes
    return children


def _environment(args: argparse.Namespace, plan: Plan | None) -> Environment:
    from locust import between
    from locust.env import Environment

    from runner.load.user import ScenarioUser

    low, high = args.wait
    user = type(
        "WsrunScenario",
        (ScenarioUser,),
        {
            "abstract": False,
            "plan": plan,
            "iterations": args.iterations,
            "wait_time": between(low, high),
        },
    )
    return Environment(user_classes=[user], stop_timeout=0.0)


def _worker(args: argparse.Namespace, plan: Plan | None, variables: dict[str, str]) -> int:
    """Run users for a master until it quits; say how many requests this worker reported.

    Without a plan (no FILE), the plan comes from the files the master sends on connecting."""
    from runner.load.user import ScenarioUser

    env = _environment(args, plan)
    user = env.user_classes[0]
    try:
        runner = env.create_worker_runner(args.master_host, args.master_port)
    except OSError as error:
        print(f"wsrun load: error: cannot reach the master: {error}", file=sys.stderr)
        return USAGE
    failed: list[str] = []
    unpacked: list[Path] = []  # the folders of the files the master sent

    def last_report(**_: Any) -> None:  # the stats first, then the count: one socket, in order
        runner._send_stats()  # Locust's own final report, as on "quit"
        runner.send_message("wsrun_sent", {"requests": ScenarioUser.fired})

    def finished() -> None:
        runner.send_message("wsrun_finished", {})

    def shipped(msg: Any, **_: Any) -> None:
        if getattr(user, "plan", None) is not None:
            return  # sent again as this worker is ready again after a stop
        received = _unpacked(msg.data, variables, unpacked)
        if received is None:
            failed.append("the master's files")
            runner.quit()
            return
        received.on_finished = finished
        user.plan = received  # type: ignore[attr-defined]
        runner.send_message("wsrun_ready", {})

    env.events.test_stop.add_listener(last_report)  # type: ignore[no-untyped-call]
    if plan is not None:  # its own FILE: what the master sends is not needed
        plan.on_finished = finished
    runner.register_message("wsrun_files", shipped)
    # the master starts the test once every worker has its plan (and its services started)
    runner.send_message("wsrun_want_files" if plan is None else "wsrun_ready", {})
    import gevent

    gevent.signal_handler(signal.SIGINT, runner.quit)  # leave the master, say so
    gevent.signal_handler(signal.SIGTERM, runner.quit)
    try:
        runner.greenlet.join()
    finally:
        received = getattr(user, "plan", None)
        if plan is None and received is not None:
            received.stop_services()
        for folder in unpacked:
            shutil.rmtree(folder, ignore_errors=True)
    if failed:
        return USAGE
    say(f"worker {os.getpid()}: {ScenarioUser.fired} requests reported")
    return OK


def _unpacked(data: Any, variables: dict[str, str], folders: list[Path]) -> Plan | None:
    """On a worker: the plan of the files a master sent, its services started; None when they
    cannot be loaded (said). The folder they are written in joins `folders`."""
    import tempfile

    from runner.errors import ServiceError
    from runner.load.shipping import unpack

    folder = Path(tempfile.mkdtemp(prefix="wsrun-load-"))
    folders.append(folder)
    try:
        file, shipped_vars = unpack(data, folder)
    except (ValueError, OSError, KeyError, TypeError) as error:
        print(f"wsrun load: error: {error}", file=sys.stderr)
        return None
    plan = _plan(file, {**shipped_vars, **variables}, ())
    if plan is None:
        return None
    try:
        plan.start_services(say)
    except ServiceError as error:
        print(f"wsrun load: error: {error}", file=sys.stderr)
        return None
    count = len(data["files"])
    say(f"worker {os.getpid()}: got {count} file{'s' * (count != 1)} from the master")
    return plan


def _lead(args: argparse.Namespace, plan: Plan, variables: dict[str, str]) -> int:
    """Local or master: start the users, wait for the end, stop, report, judge."""
    import gevent

    env = _environment(args, plan)
    sent: dict[str, int] = {}
    runner: Any  # a LocalRunner or a MasterRunner
    if args.master:
        runner = env.create_master_runner(args.master_bind_host, args.master_bind_port)

        def on_sent(environment: Any, msg: Any, **_: Any) -> None:
            sent[msg.node_id] = int(msg.data["requests"])

        def on_finished(**_: Any) -> None:
            plan.finished += 1  # a worker's user ran all its iterations

        runner.register_message("wsrun_sent", on_sent)
        runner.register_message("wsrun_finished", on_finished)
        from runner.load.shipping import pack

        files = pack(plan.suite, args.file, variables)
        ready: set[str] = set()

        def ship(msg: Any, **_: Any) -> None:  # to a worker started without FILE
            runner.send_message("wsrun_files", files, client_id=msg.node_id)

        def on_ready(msg: Any, **_: Any) -> None:
            ready.add(msg.node_id)

        runner.register_message("wsrun_want_files", ship)
        runner.register_message("wsrun_ready", on_ready)
        say(f"master: waiting for {args.expect_workers} workers on port {args.master_bind_port}")
        while len(runner.clients.ready) < args.expect_workers or len(ready) < args.expect_workers:
            gevent.sleep(TICK)
    else:
        runner = env.create_local_runner()
    writer = _csv_writer(env, args.csv_prefix)
    if args.web:
        # Locust's web UI reads its own options from sys.argv when it renders its page:
        # ours are parsed already, and Locust's parser would refuse them
        sys.argv[1:] = []
        web = env.create_web_ui(host=args.web_host, port=args.web_port)
        problem = _serving_problem(web)  # say where only once it listens (it binds in a greenlet)
        if problem is not None:
            print(f"wsrun load: error: {problem}", file=sys.stderr)
            runner.quit()
            return USAGE
        say(f"web UI on http://{args.web_host or '0.0.0.0'}:{args.web_port}")
    workers = len(runner.clients.ready) if args.master else 0
    started = time.monotonic()
    say(
        f"load: {plan.scenarios[0].name}: {args.users} users, {args.spawn_rate:g}/s"
        + (f", {workers} workers" if workers else "")
    )
    gevent.spawn(runner.start, args.users, args.spawn_rate)
    interrupted = _interrupts()
    _wait_for_end(args, plan, started, interrupted)
    if interrupted:  # Ctrl-C: stop, and still write and print what was measured
        say("interrupted (Ctrl-C): stopping the users")
    elapsed = time.monotonic() - started
    try:
        runner.stop()
        if args.master:
            _last_reports(runner, sent, workers)
        runner.quit()
        if args.web:
            web.stop()  # type: ignore[no-untyped-call]
    except KeyboardInterrupt:  # raised where the signal found the main greenlet
        interrupted.append(signal.SIGINT)
    if writer is not None:
        _write_csv(env, writer, args.csv_prefix)
    if args.html:
        _write_html(env, args.html)
    stats = runner.stats
    for line in table(stats):
        say(line)
    if args.master:
        say(
            f"workers reported {sum(sent.values())} requests ({len(sent)} workers); "
            f"the master counted {stats.total.num_requests}"
        )
    say(
        f"ran {elapsed:.1f}s, {stats.total.num_requests} requests, "
        f"{stats.total.num_failures} failed"
    )
    code = judge(stats, args.threshold)
    return INTERRUPTED if interrupted else code


def _interrupts() -> list[int]:
    """From now on, SIGINT (Ctrl-C) and SIGTERM are noted in the list returned, by a greenlet
    of gevent's hub: Python's own handler would raise KeyboardInterrupt in whichever greenlet
    runs at that moment (a connection's, as likely as not)."""
    import gevent

    noted: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, noted.append, signum)
    return noted


def _wait_for_end(
    args: argparse.Namespace, plan: Plan, started: float, interrupted: list[int]
) -> None:
    """Until ``--duration`` is over, every user ran its ``--iterations``, or a signal came."""
    import gevent

    deadline = started + args.duration if args.duration else None
    while not interrupted and (deadline is None or time.monotonic() < deadline):
        gevent.sleep(TICK)
        if args.iterations and plan.finished >= args.users:
            return


def _last_reports(runner: Any, sent: dict[str, int], workers: int) -> None:
    import gevent

    end = time.monotonic() + LAST_REPORT_WAIT
    while len(sent) < workers and time.monotonic() < end:
        gevent.sleep(TICK / 4)
    if len(sent) < workers:
        say(f"master: {workers - len(sent)} workers sent no last report")


def _csv_writer(env: Environment, prefix: str | None) -> Any:
    """Locust's CSV writer, writing ``PREFIX_stats_history.csv`` as the test runs."""
    if prefix is None:
        return None
    import gevent
    from locust import stats

    writer = stats.StatsCSVFileWriter(env, stats.PERCENTILES_TO_REPORT, prefix, False)
    writer.greenlet = gevent.spawn(writer.stats_writer)  # type: ignore[attr-defined]
    return writer


def _write_csv(env: Environment, writer: Any, prefix: str) -> None:
    """Stop Locust's writer, then write its stats, failures and exceptions files once more,
    whole: the writer's loop may not have run after the last request."""
    from locust import stats

    writer.greenlet.kill(block=True)
    writer.close_files()
    final = stats.StatsCSV(env, stats.PERCENTILES_TO_REPORT)
    for suffix, write in (
        ("stats", final.requests_csv),
        ("failures", final.failures_csv),
        ("exceptions", final.exceptions_csv),
    ):
        with open(f"{prefix}_{suffix}.csv", "w", newline="", encoding="utf-8") as file:
            write(csv.writer(file))


def _write_html(env: Environment, path: str) -> None:
    from locust.html import get_html_report

    text = get_html_report(env, show_download_link=False)  # type: ignore[no-untyped-call]
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)


def table(stats: RequestStats) -> list[str]:
    """The end-of-test table: a row per step (type, name), then the total."""
    head = (
        f"{'Type':<14} {'Name':<44} {'count':>7} {'fails':>6} {'p50':>7} {'p95':>7} "
        f"{'p99':>7} {'max':>7} {'req/s':>7}"
    )
    lines = [head, "-" * len(head)]
    # in the order first seen (a scenario's steps in order), the messages no step took last
    entries = sorted(stats.entries.values(), key=lambda e: e.method in (UNEXPECTED, SCENARIO))
    for entry in [*entries, stats.total]:
        kind = entry.method or ""
        lines.append(
            f"{kind:<14} {entry.name:<44} {entry.num_requests:>7} {entry.num_failures:>6} "
            + " ".join(f"{_ms(entry, p):>7}" for p in (0.5, 0.95, 0.99))
            + f" {_ms_value(entry.max_response_time):>7} {entry.total_rps:>7.1f}"
        )
    errors = sorted(stats.errors.values(), key=lambda e: -e.occurrences)
    for error in errors[:10]:
        lines.append(f"failure x{error.occurrences}: {error.method} {error.name}: {error.error}")
    return lines


def _ms(entry: Any, fraction: float) -> str:
    if not entry.num_requests:
        return "-"
    return _ms_value(entry.get_response_time_percentile(fraction))


def _ms_value(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def judge(stats: RequestStats, thresholds: Sequence[Threshold]) -> int:
    """Check every threshold and say each result; the exit code (no threshold: 1 when a
    request failed, as Locust does)."""
    if not thresholds:
        return FAILED if stats.total.num_failures else OK
    met = True
    for threshold in thresholds:
        held, shown = threshold.check(_measured(stats, threshold.kind))
        say(f"threshold {threshold.text}: {'met' if held else 'NOT met'}: {shown}")
        met = met and held
    return OK if met else FAILED


def _measured(stats: RequestStats, kind: str | None) -> Measured:
    from locust.stats import StatsEntry

    if kind is None:
        merged = stats.total
    else:
        merged = StatsEntry(stats, kind, kind)
        for entry in stats.entries.values():
            if entry.method == kind:
                merged.extend(entry)
    percentile: Callable[[float], float] = merged.get_response_time_percentile
    return Measured(
        requests=merged.num_requests,
        failures=merged.num_failures,
        percentile=percentile,
        avg=merged.avg_response_time,
        max=float(merged.max_response_time or 0),
    )


def _serving_problem(web: Any, wait: float = 10.0) -> str | None:
    """Wait until Locust's web UI listens (`create_web_ui` binds its port in a greenlet, so an
    address said before that would refuse connections); why it does not, or None."""
    import gevent

    until = time.monotonic() + wait
    while time.monotonic() < until:
        server = getattr(web, "server", None)
        if server is not None and server.started:
            return None
        if web.greenlet.dead:
            return f"the web UI could not listen on {web.host}:{web.port}"
        gevent.sleep(0.01)
    return f"the web UI did not listen on {web.host}:{web.port} within {wait:g}s"
