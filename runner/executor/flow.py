"""The runner of `repeat`: it opens a loop that the scenario runner walks, step by step.

A loop is never copied out. Its runner renders the loop's head (`count` or `for_each`) and
returns an `Enter` holding a `Loop`: the scenario runner then runs the loop's steps from its own
list, once per iteration, with the loop variable set, and ends the `repeat` step when the last
iteration ends (see `ScenarioRunner._advance`). Memory stays flat whatever the count; a failure
inside names its iteration (``repeat iteration 417 of 1000``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.errors import ScenarioError
from runner.executor.context import ScenarioContext
from runner.executor.step_registry import Outcome, StepPlan, runs
from runner.scenario.kinds import StepModel
from runner.scenario.steps_flow import RepeatStep
from runner.scenario.templates import render

__all__ = ["Enter", "Loop", "run_repeat"]

_UNSET: Any = object()


@dataclass(slots=True)
class Loop:
    """A running loop: its steps, where it is, and what it bound.

    Attributes:
        step: the `repeat` step.
        steps: the steps of one iteration.
        total: how many iterations.
        items: the items of `for_each` (None for `count`).
        iteration: the current iteration, from 1.
        index, start, location, summary: of the `repeat` step, for its events.
        outer_steps, outer_pos, outer_plans: the list, position and plans to return to when
            the loop ends.
        previous: the loop variable's value before the loop (`_UNSET` when it had none).
    """

    step: RepeatStep
    steps: Sequence[StepModel]
    total: int
    items: list[Any] | None
    iteration: int = 0
    index: int = 0
    start: float = 0.0
    location: str = ""
    summary: str = ""
    outer_steps: Sequence[StepModel] = ()
    outer_pos: int = 0
    outer_plans: list[StepPlan] = field(default_factory=list)
    previous: Any = field(default=_UNSET)

    def next_iteration(self, variables: dict[str, Any]) -> bool:
        """Start the next iteration (True), or end the loop, restoring its variable (False)."""
        name = self.step.as_
        if self.iteration >= self.total:
            if name is not None:
                if self.previous is _UNSET:
                    variables.pop(name, None)
                else:
                    variables[name] = self.previous
            return False
        if self.iteration == 0 and name is not None:
            self.previous = variables.get(name, _UNSET)
        self.iteration += 1
        if name is not None:
            items = self.items
            variables[name] = self.iteration if items is None else items[self.iteration - 1]
        return True

    def where(self) -> str:
        """``repeat iteration 417 of 1000``."""
        return f"repeat iteration {self.iteration} of {self.total}"


@dataclass(frozen=True, slots=True)
class Enter(Outcome):
    """A step that opens a loop: the scenario runner runs `loop`'s steps next."""

    loop: Loop | None = None


@runs(RepeatStep, inline=True)
def run_repeat(ctx: ScenarioContext, step: RepeatStep) -> Enter:
    """Open the loop: render its head (only: its steps are rendered each as it runs)."""
    if step.count is not None:
        total = _count(ctx, step)
        return Enter(loop=Loop(step, step.steps, total, None))
    items = _items(ctx, step)
    return Enter(loop=Loop(step, step.steps, len(items), items))


def _count(ctx: ScenarioContext, step: RepeatStep) -> int:
    count = step.count
    if isinstance(count, str):
        count = render(count, ctx.variables, step.location)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ScenarioError(
            "count: expected 1 or more iterations once rendered", step.location, found=repr(count)
        )
    return count


def _items(ctx: ScenarioContext, step: RepeatStep) -> list[Any]:
    items = render(step.for_each, ctx.variables, step.location)
    if not isinstance(items, list):
        raise ScenarioError(
            "for_each: expected a list once rendered", step.location, found=repr(items)
        )
    return items
