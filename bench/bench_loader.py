"""How fast scenario files load and validate, against a baseline measured in the same run.

Figures, each the median of several rounds (in-process, rounds interleaved with the baseline):

1. Steps: one scenario file of 1,000, 10,000 and 100,000 steps (``send``/``expect`` pairs, one
   pair in five with a ``${...}`` template), loaded with `load_suite` (what ``wsrun validate``
   and ``wsrun run`` do before anything connects). Printed: wall microseconds per step (target
   < 25 µs, so 100,000 steps in under 2.5 s and well under the 5 s of the issue), this
   process's CPU microseconds per step (``time.process_time``: it says more than wall time when
   other work shares the CPUs), and the ratio against ``yaml.load(text,
   Loader=yaml.CSafeLoader)`` of the same file, the fastest plain reading of it (wsrun composes
   with libyaml too, then builds locations, validates with pydantic and checks connections and
   variables). Memory: peak RSS of a fresh process that loads the file, less its peak before
   loading, per step (target <= 1 KiB); and the same of a fresh process that only reads the
   file into values and positions (``read_document``: the YAML part of loading). Then how
   linear loading is: the largest file's CPU µs per step over the smallest's (1.0 is linear).
2. Rows: a scenario with 50,000 ``parametrize`` rows (50,000 scenarios). Target: < 5 s.
3. ``wsrun validate`` of a one-step file as a whole process (``python -m runner validate``),
   runs interleaved with ``python -c pass`` and ``python -c "import pydantic"`` (the floor of
   anything that validates with pydantic): wall and CPU (user + system) milliseconds, medians
   and ranges of ``--validate-runs`` runs (20). Target: < 100 ms wall. The processes write and
   read their bytecode in a cache of their own (``PYTHONPYCACHEPREFIX``, warmed by a first
   run), as an installed wsrun has its modules compiled: with ``PYTHONDONTWRITEBYTECODE`` an
   editable install compiles all of them on every start (about 140 ms more). Then where a
   start's CPU goes, in fresh processes of the same cache (``time.thread_time``, medians and
   ranges): importing pydantic with the modules the models use and PyYAML, `runner.cli`,
   `runner.scenario`, and validating the file (``runner.cli.main``, its output discarded).

4. Stages (``--parts stages``, not run by default): where loading one file of ``--stage-steps``
   steps (10,000) goes, in this process: the thread CPU (``time.thread_time``) of each stage
   of `load_suite` (reading the YAML, canonical forms, validation, locations, connections,
   variables, default timeouts, and the rest), medians and ranges of ``--rounds`` loads after
   a first one (which builds the validators), and the Python calls of one load (cProfile).
   A scenario file's canonical forms are made while validation takes them (an iterator), so
   their time is in "validation" and "canonical forms" is only a library's.
   The stages are timed by wrapping the loader's functions; the figures say which stage a
   change moves, and a ratio between the stages of one run.

The cyclic garbage collector stays as Python leaves it (the loader pauses it itself); the
baseline runs with it on, as a plain script would.

    python -m bench.bench_loader [--rounds 3] [--sizes 1000,10000,100000] [--rows 50000]
                                 [--validate-runs 20] [--parts steps,rows,validate]
                                 [--parts stages --stage-steps 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

STEP_TARGET_US = 25.0
MEMORY_TARGET_KIB = 1.0
ROWS_TARGET_S = 5.0
VALIDATE_TARGET_MS = 100.0
#: The figures `--parts` chooses from, in the order they are printed (`stages` only if asked).
PARTS = ("steps", "rows", "validate")
EXTRA_PARTS = ("stages",)
#: The loader's stages `--parts stages` times: (label, module, function or Class.method).
STAGES = (
    ("reading the YAML", "loader", "read_document"),
    ("canonical forms", "loader", "canonical_body"),
    ("validation", "loader", "ScenarioFile.model_validate"),
    ("locations", "loader", "attach_locations"),
    ("connections", "loader", "resolve_connections"),
    ("variables", "loader", "check_variables"),
    ("default timeouts", "loader", "_default_timeouts"),
)


def write_steps(path: Path, steps: int) -> None:
    """A scenario of `steps` steps: a connect, send/expect pairs, one in ten templated."""
    lines = [
        "name: many steps",
        "vars: {greeting: hello}",
        "steps:",
        '  - connect: {url: "ws://127.0.0.1:9/"}',
    ]
    for i in range(steps // 2):
        text = f"${{greeting}} {i}" if i % 5 == 0 else f"m{i}"
        lines.append(f'  - send: "{text}"')
        lines.append(f'  - expect: {{text: "{text}"}}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_rows(path: Path, rows: int) -> None:
    """A scenario with `rows` parametrize rows."""
    lines = ["name: rows", "parametrize:"]
    lines += [f"  - {{user: u{i}, n: {i}}}" for i in range(rows)]
    lines += ["steps:", '  - connect: {url: "ws://127.0.0.1:9/${user}"}', '  - send: "${n}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(function: Callable[[Path], object], path: Path, cpu: list[float] | None = None) -> float:
    """Wall seconds of `function(path)`; its CPU seconds (this process) appended to `cpu`."""
    started, cpu_started = time.perf_counter(), time.process_time()
    function(path)
    if cpu is not None:
        cpu.append(time.process_time() - cpu_started)
    return time.perf_counter() - started


def load(path: Path) -> int:
    """Load `path` as wsrun does; return how many scenarios it holds."""
    from runner.scenario import load_suite

    return len(load_suite([str(path)]).scenarios)


def plain_yaml(path: Path) -> object:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


_MEMORY_SCRIPT = """
import sys
from runner.scenario import load_suite
from runner.scenario.source import read_document

def peak():  # VmHWM starts anew at exec (ru_maxrss would keep the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

before = peak()
if sys.argv[2] == "read":
    read_document(sys.argv[1])
else:
    load_suite([sys.argv[1]])
print(peak() - before)
"""


def memory_kib(path: Path, phase: str = "load") -> int:
    """Peak RSS that loading `path` ("load") or only reading it ("read") adds to a fresh
    process, in KiB."""
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(path), phase],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


def bench_steps(folder: Path, sizes: list[int], rounds: int) -> None:
    print(f"steps (load_suite, {rounds} rounds, medians; load average {_load_average()}):")
    load(folder / "warm.yaml")  # the first load also builds what is cached
    per_steps: list[float] = []
    for steps in sizes:
        path = folder / f"steps_{steps}.yaml"
        write_steps(path, steps)
        wsrun_s: list[float] = []
        yaml_s: list[float] = []
        cpu_s: list[float] = []
        for _ in range(rounds):
            yaml_s.append(timed(plain_yaml, path))
            wsrun_s.append(timed(load, path, cpu_s))
        ratio = statistics.median(w / y for w, y in zip(wsrun_s, yaml_s, strict=True))
        per_step = statistics.median(wsrun_s) / steps * 1e6
        cpu_per_step = statistics.median(cpu_s) / steps * 1e6
        kib = memory_kib(path) / steps
        read_kib = memory_kib(path, "read") / steps
        per_steps.append(cpu_per_step)
        ok = "ok" if per_step < STEP_TARGET_US and kib <= MEMORY_TARGET_KIB else "MISSED"
        print(
            f"  {steps:>7,} steps  {statistics.median(wsrun_s):6.2f} s  {per_step:5.1f} µs/step "
            f"(target < {STEP_TARGET_US:.0f}; CPU {cpu_per_step:5.1f})  "
            f"{ratio:4.1f}x yaml.CSafeLoader  "
            f"{kib:5.2f} KiB/step (target <= {MEMORY_TARGET_KIB:.0f}; "
            f"reading {read_kib:4.2f})  {ok}"
        )
    if len(sizes) > 1:
        print(
            f"  linearity: {sizes[-1]:,} steps take {per_steps[-1] / per_steps[0]:.2f}x the "
            f"CPU µs per step of {sizes[0]:,} (1.00 is linear)"
        )


def bench_rows(folder: Path, rows: int, rounds: int) -> None:
    path = folder / "rows.yaml"
    write_rows(path, rows)
    wsrun_s, yaml_s = [], []
    for _ in range(rounds):
        yaml_s.append(timed(plain_yaml, path))
        wsrun_s.append(timed(load, path))
    ratio = statistics.median(w / y for w, y in zip(wsrun_s, yaml_s, strict=True))
    seconds = statistics.median(wsrun_s)
    ok = "ok" if seconds < ROWS_TARGET_S else "MISSED"
    print(
        f"parametrize: {rows:,} rows  {seconds:.2f} s (target < {ROWS_TARGET_S:.0f} s)  "
        f"{seconds / rows * 1e6:.1f} µs/row  {ratio:.1f}x yaml.CSafeLoader  {ok}"
    )


def validate_startup(folder: Path, runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU milliseconds of `runs` runs of each start-up that `bench_validate` shows, the
    runs interleaved (a first, unmeasured run of each warms the bytecode cache)."""
    path = folder / "one.yaml"
    path.write_text('name: one\nsteps:\n  - connect: {url: "ws://127.0.0.1:9/"}\n')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import pydantic'": [sys.executable, "-c", "import pydantic"],
        "wsrun validate": [sys.executable, "-m", "runner", "validate", str(path)],
    }
    figures: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    for command in commands.values():
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    for _ in range(runs):
        for name, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
            wall = (time.perf_counter() - started) * 1000
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
            figures[name][0].append(wall)
            figures[name][1].append(cpu)
    return figures


def bench_validate(folder: Path, runs: int = 20) -> None:
    print(
        f"wsrun validate, one-step file, whole processes ({runs} runs each, interleaved; load "
        f"average {_load_average()})"
    )
    for name, (walls, cpus) in validate_startup(folder, runs).items():
        target = ""
        if name == "wsrun validate":
            ok = "ok" if statistics.median(walls) < VALIDATE_TARGET_MS else "MISSED"
            target = f"  target < {VALIDATE_TARGET_MS:.0f} ms wall  {ok}"
        print(f"  {name:<28} wall {_spread(walls)} ms  CPU {_spread(cpus)} ms{target}")
    print(f"  in-process, thread CPU ms ({runs} fresh processes):")
    for name, values in validate_breakdown(folder, runs).items():
        print(f"    {name:<40} {_spread(values)}")


#: What `validate_breakdown` times in a fresh process, part by part (thread CPU, ms).
_BREAKDOWN = """
import contextlib, io, json, sys, time
parts = {}
start = time.thread_time()
import pydantic, pydantic.fields, pydantic.json_schema, pydantic.types, yaml
parts["pydantic, its models' modules, PyYAML"] = time.thread_time() - start
start = time.thread_time()
import runner.cli
parts["import runner.cli"] = time.thread_time() - start
start = time.thread_time()
import runner.scenario
parts["import runner.scenario"] = time.thread_time() - start
start = time.thread_time()
with contextlib.redirect_stdout(io.StringIO()):
    try:
        runner.cli.main(["validate", sys.argv[1]])
    except SystemExit:
        pass
parts["validate the file (runner.cli.main)"] = time.thread_time() - start
print(json.dumps({name: seconds * 1000 for name, seconds in parts.items()}))
"""


def validate_breakdown(folder: Path, runs: int) -> dict[str, list[float]]:
    """Where a one-step validate's CPU goes, in `runs` fresh processes (see `_BREAKDOWN`), with
    the bytecode cache of `validate_startup` (run first)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    command = [sys.executable, "-c", _BREAKDOWN, str(folder / "one.yaml")]
    figures: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        for name, value in json.loads(done.stdout).items():
            figures.setdefault(name, []).append(value)
    return figures


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ({min(values):.0f}-{max(values):.0f})"


def stage_times(path: Path, rounds: int) -> tuple[dict[str, list[float]], int]:
    """Thread CPU seconds of each loading stage over `rounds` loads of `path` (after a first,
    untimed load), "the rest" included; and the Python calls of one load (cProfile)."""
    import cProfile
    import pstats

    from runner.scenario import loader

    spent: dict[str, float] = {}
    originals: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        # a class's method is wrapped bound (`Class.method(...)` then calls the wrapper as a
        # plain function) and the wrapper is deleted afterwards, leaving the inherited one
        original = getattr(owner, name)
        own = owner.__dict__.get(name) if isinstance(owner, type) else original

        def timed_stage(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.thread_time() - started

        originals.append((owner, name, own))
        setattr(owner, name, timed_stage)

    load(path)  # the validators built, untimed
    try:
        for label, _, target in STAGES:
            owner: Any = loader
            if "." in target:
                class_name, target = target.split(".")
                owner = getattr(loader, class_name)
            wrap(owner, target, label)
        times: dict[str, list[float]] = {label: [] for label, _, _ in STAGES}
        times["the rest"] = []
        for _ in range(rounds):
            spent.clear()
            started = time.thread_time()
            load(path)
            total = time.thread_time() - started
            for label, _, _ in STAGES:
                times[label].append(spent.get(label, 0.0))
            times["the rest"].append(total - sum(spent.values()))
    finally:
        for owner, name, original in reversed(originals):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
    profile = cProfile.Profile()
    profile.enable()
    load(path)
    profile.disable()
    return times, pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


def bench_stages(folder: Path, steps: int, rounds: int) -> None:
    """Figure 4: where one file's load goes, stage by stage (see the module's docstring)."""
    path = folder / f"stages_{steps}.yaml"
    write_steps(path, steps)
    times, calls = stage_times(path, rounds)
    total = [sum(column) for column in zip(*times.values(), strict=True)]
    print(
        f"stages of one load, {steps:,} steps ({rounds} rounds after a first, thread CPU ms, "
        f"medians and ranges; load average {_load_average()}):"
    )
    for label, values in times.items():
        print(f"  {label:<18} {_ms(values)}")
    print(f"  {'whole load':<18} {_ms(total)}  ({calls:,} Python calls, cProfile)")


def _ms(values: list[float]) -> str:
    return _spread([value * 1000 for value in values])


def _load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as file:
        return " ".join(file.read().split()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000", help="step counts, by commas")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--validate-runs", type=int, default=20)
    every = (*PARTS, *EXTRA_PARTS)
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"which figures, by commas ({', '.join(every)})"
    )
    parser.add_argument("--stage-steps", type=int, default=10_000, help="the stages' file")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts <= set(every):
        parser.error(f"--parts: expected some of {', '.join(every)}, found {args.parts!r}")
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        write_steps(folder / "warm.yaml", 100)
        if "steps" in parts:
            bench_steps(folder, [int(s) for s in args.sizes.split(",")], args.rounds)
        if "rows" in parts:
            bench_rows(folder, args.rows, args.rounds)
        if "validate" in parts:
            bench_validate(folder, args.validate_runs)
        if "stages" in parts:
            bench_stages(folder, args.stage_steps, args.rounds)


if __name__ == "__main__":
    main()
