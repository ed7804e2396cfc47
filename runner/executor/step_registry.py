"""The runners of the step kinds: one per step model, registered with `@runs(Model)`.

A runner takes the scenario's context and a validated step of its model. It returns the step's
`Outcome`, or, when the step has to wait for something a connection's thread will see (a
message, say), a `Wait`: the scenario runner parks it and whoever settles it finishes the step.
Any kind can wait that way; none is special-cased by name.

A runner marked ``inline`` may run on a connection's thread, right after a `Wait` settled there
(see `scenario_run`): it must never wait for a connection's thread (its own could not read), nor
sleep. Steps that block (connect, close, expect_close, sleep) run on the scenario's thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from runner.events import _quick_init
from runner.executor.clock import Deadline
from runner.executor.context import ScenarioContext, _model_has_template
from runner.scenario.kinds import StepModel
from runner.scenario.steps import ConnectionStep

__all__ = [
    "Outcome",
    "Runner",
    "StepPlan",
    "StepResult",
    "StepRun",
    "Wait",
    "registered_runners",
    "runner_for",
    "runs",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a step reports besides passing: its connection and, for expect, latencies."""

    conn: str | None = None
    latency: float | None = None
    latency_from_send: float | None = None
    note: str | None = None


_quick_init(Outcome)  # one an expect step: set through its slots, not `object.__setattr__`


class Wait(ABC):
    """A step that waits: parked until a connection's thread settles it, or its deadline.

    Whoever takes the wait out of where it is parked owns what follows: the thread that settles
    it (which then calls `on_settle`), or the scenario's thread when `cancel` returns True.
    """

    deadline: Deadline  # set by the subclass

    @abstractmethod
    def begin(self, on_settle: Callable[[Wait], None]) -> bool:
        """Finish now if what the step waits for is there already (True), else park (False);
        `on_settle(self)` then runs once on the thread that settles it, unless cancelled."""

    @abstractmethod
    def finish(self) -> Outcome:
        """The step's outcome once it is settled; raises the step's failure."""

    @abstractmethod
    def cancel(self) -> bool:
        """Withdraw the wait unless it was settled already; True when this call withdrew it."""

    @abstractmethod
    def expired(self) -> Outcome | Wait:
        """The step's outcome when its deadline passed, after a successful `cancel`: for most
        steps that is a failure, raised; for one that waits for nothing to happen, its pass; for
        one that waits in rounds (poll), a `Wait` for the next round, begun like the first."""


StepResult = Outcome | Wait
_S = TypeVar("_S", bound=StepModel)
#: A runner's function: the step's outcome, or its wait.
StepRun = Callable[[ScenarioContext, _S], StepResult]


@dataclass(frozen=True, slots=True)
class Runner(Generic[_S]):
    """The runner of one step model; `inline`: it may run on a connection's thread.

    `conn_field`: the model's `conn_named` is its `conn` field (a `ConnectionStep`'s), which a
    plan then reads with no call."""

    model: type[_S]
    run: StepRun[_S]
    inline: bool = False
    conn_field: bool = False


_RUNNERS: dict[type[StepModel], Runner[StepModel]] = {}


def runs(model: type[_S], *, inline: bool = False) -> Callable[[StepRun[_S]], StepRun[_S]]:
    """Register the decorated function as the runner of `model` (one runner per model)."""

    def register(run: StepRun[_S]) -> StepRun[_S]:
        if model in _RUNNERS:
            raise TypeError(f"{model.__name__} has a runner already")
        # Stored as a runner of any step: `runner_for` hands it only steps of `model`.
        conn_field = model.conn_named is ConnectionStep.conn_named
        _RUNNERS[model] = cast("Runner[StepModel]", Runner(model, run, inline, conn_field))
        return run

    return register


def runner_for(step: StepModel) -> Runner[StepModel]:
    """The runner of a step's model."""
    return _RUNNERS[type(step)]


class StepPlan:
    """What running a step needs that does not change between its runs, worked out once.

    The plans of a list of steps are made as the list first starts (`all_of`) and kept for the
    scenario's run (the `ScenarioRunner` keeps them by the list and each step's position): a
    step in a `repeat` of a million iterations is found, not prepared again, each time. While
    the step runs, its plan is the context's `ScenarioContext.plan`: `ScenarioContext.rendered`
    answers from `plain` (the step comes back as it is, no template looked for again), and the
    runner keeps what it prepares from a step without templates in `prepared` (an expect step's
    text and compiled matcher). A step with templates is rendered each time it runs (its
    variables may differ, in a loop or a parametrize row), and nothing of its rendering is kept.

    Attributes:
        step: the step model.
        runner: the runner of its model; `run` and `inline` are its own (`inline`: it may run
            on a connection's thread).
        kind: the step's kind.
        location: its ``file:line:col``, as its events carry it.
        summary: ``expect default``: its kind and the connection it names.
        conn: the connection it names, if any.
        plain: whether the step holds no template (``${``) in any field written.
        prepared: what its runner made from the step without templates, kept (None: nothing).
    """

    __slots__ = (
        "conn",
        "inline",
        "kind",
        "location",
        "plain",
        "prepared",
        "run",
        "runner",
        "step",
        "summary",
    )

    step: StepModel
    runner: Runner[StepModel]
    run: StepRun[StepModel]
    inline: bool
    kind: str
    location: str
    summary: str
    conn: str | None
    plain: bool
    prepared: Any  # each runner keeps its own kind of thing

    @classmethod
    def of(cls, step: StepModel) -> StepPlan:
        """The plan of `step`."""
        return cls.all_of((step,))[0]

    @classmethod
    def all_of(cls, steps: Sequence[StepModel]) -> list[StepPlan]:
        """The plans of a list of steps, in one call: a long scenario makes one plan a step, as
        its list starts (each step's plan in a call of its own was two calls a pair)."""
        plans: list[StepPlan] = []
        for step in steps:
            plan = object.__new__(cls)
            plan.step = step
            plan.runner = runner = _RUNNERS[step.__class__]
            plan.run, plan.inline = runner.run, runner.inline
            plan.kind = kind = step.kind
            plan.conn = conn = step.conn if runner.conn_field else step.conn_named()  # type: ignore[attr-defined]
            plan.summary = f"{kind} {conn}" if conn else kind
            where = step.location  # str(where), without its call
            plan.location = f"{where.file}:{where.line}:{where.column}"
            plan.plain = not _model_has_template(step)
            plan.prepared = None
            plans.append(plan)
        return plans


def registered_runners() -> dict[type[StepModel], Runner[StepModel]]:
    """Every model with its runner (for the test that holds each model to one runner)."""
    return dict(_RUNNERS)
