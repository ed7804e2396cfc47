"""`count` over a long inbox: one step that takes N matches against N written-out expect steps.

10,000 messages wait in the inbox (half of them match); the scenario takes `--take` matching
messages, either with one ``expect: {..., count: N}`` or with N ``expect`` steps, against the
same local echo server (bench/servers.py), rounds interleaved. Printed: the time of the taking
step(s) per round, medians, and the ratio count/written-out (the step must scan each message
once: milliseconds, not a rescan per match).

    python -m bench.bench_expect [--messages 10000] [--take 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from io import StringIO
from pathlib import Path

from bench.servers import echo_server


def _scenario(folder: Path, messages: int, take: int, *, one_step: bool) -> None:
    lines = ["name: inbox", "timeout: 30s", "steps:", '  - connect: {url: "${url}"}']
    for i in range(messages):
        lines.append(f"  - send: {{json: {json.dumps({'n': i, 'even': i % 2 == 0})}}}")
    lines.append(f"  - expect: {{json: {{n: {messages - 1}}}}}")  # every echo has arrived
    if one_step:
        lines.append(f"  - expect: {{json: {{even: true}}, count: {take}}}")
    else:
        lines.extend("  - expect: {json: {even: true}}" for _ in range(take))
    (folder / "inbox.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _taking_time(folder: Path, url: str, take_steps: int) -> float:
    """Run the scenario; the seconds its last `take_steps` steps took."""
    from rich.console import Console

    from runner.events import EventBus, Status, StepEnded
    from runner.executor import RunOptions, run_suite
    from runner.report.console import QUIET, ConsoleReporter
    from runner.scenario import load_suite

    suite = load_suite([str(folder)], {"url": url})
    events: list[StepEnded] = []
    bus = EventBus()
    bus.subscribe(ConsoleReporter(Console(file=StringIO(), color_system=None), QUIET, 1))
    bus.subscribe(lambda e: events.append(e) if isinstance(e, StepEnded) else None)
    if run_suite(suite, suite.scenarios, RunOptions(), bus.emit) is not Status.PASSED:
        raise SystemExit("the benchmark scenario did not pass")
    return sum(step.duration for step in events[-take_steps:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--take", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    one, many = [], []
    with echo_server() as server, tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp, "count"), Path(tmp, "steps")
        a.mkdir()
        b.mkdir()
        _scenario(a, args.messages, args.take, one_step=True)
        _scenario(b, args.messages, args.take, one_step=False)
        for _ in range(args.rounds):
            one.append(_taking_time(a, server.url, 1))
            many.append(_taking_time(b, server.url, args.take))
    print(f"{args.take} matches over an inbox of {args.messages} ({args.rounds} rounds):")
    print("  one expect with count:   " + ", ".join(f"{t * 1000:.1f}" for t in one) + " ms")
    print("  written-out expects:     " + ", ".join(f"{t * 1000:.1f}" for t in many) + " ms")
    first, second = statistics.median(one), statistics.median(many)
    print(
        f"  medians {first * 1000:.1f} ms against {second * 1000:.1f} ms: count is "
        f"{second / first:.0f}x faster (each written-out step rescans the messages left over)"
    )


if __name__ == "__main__":
    main()
