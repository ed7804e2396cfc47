"""From wsrun's events to Locust's request events: every step a request, its failure a failure.

One `StepReporter` listens to one iteration of one virtual user (a `ScenarioRunner`'s `emit`).
Each step that ends is fired as a Locust request: `request_type` is the step's kind upper-cased
(``CONNECT``, ``SEND``, ``EXPECT``...), `name` the scenario's name and the step's label (its
``name:`` field, else its ``file:line``), `response_time` in milliseconds the latency the console
shows (for an expect, from the last send on that connection). A failed step is held until the
scenario ends, so that its failure carries wsrun's reason. Messages that no step took are
counted, one ``WS UNEXPECTED`` request each, and forgotten with the iteration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runner.events import Event, HttpExchanged, ScenarioEnded, Status, StepEnded

__all__ = ["SCENARIO", "UNEXPECTED", "StepFailure", "StepReporter", "step_labels"]

#: The request type of the messages no step took.
UNEXPECTED = "WS UNEXPECTED"
#: The request type of a scenario that failed after its steps passed (an abnormal close...).
SCENARIO = "SCENARIO"
#: Compound steps: their inner steps are reported, not them.
_CONTAINERS = frozenset({"repeat"})

Fire = Callable[..., None]


class StepFailure(Exception):
    """A step's failure as Locust shows it: wsrun's reason, one line."""


def step_labels(steps: Any) -> dict[str, str]:
    """``location → name`` for every step (inner steps of loops too) that has a ``name:``."""
    labels: dict[str, str] = {}
    stack = list(steps)
    while stack:
        step = stack.pop()
        name = getattr(step, "name", None)
        if isinstance(name, str) and name:
            labels[str(step.location)] = name
        stack.extend(getattr(step, "steps", None) or ())
    return labels


class StepReporter:
    """The `emit` of one iteration: fires a Locust request for each step that ends.

    Args:
        scenario: the scenario's name, the first part of every request's name.
        labels: the named steps' labels, by location (`step_labels`).
        fire: Locust's ``events.request.fire``.
        context: passed to every request listener.
    """

    def __init__(
        self, scenario: str, labels: Mapping[str, str], fire: Fire, context: dict[str, Any]
    ) -> None:
        self.scenario = scenario
        self.labels = labels
        self.fire = fire
        self.context = context
        self.fired = 0
        self._held: StepEnded | None = None
        self._http_latency: float | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepEnded):
            self._step_ended(event)
        elif isinstance(event, HttpExchanged):
            self._http_latency = event.latency
        elif isinstance(event, ScenarioEnded):
            self._scenario_ended(event)

    def _step_ended(self, event: StepEnded) -> None:
        if event.kind in _CONTAINERS:
            return
        if event.status is Status.PASSED:
            self._request(event, None)
        elif event.status in (Status.FAILED, Status.ERROR):
            self._held = event  # its reason comes with the scenario's end
        self._http_latency = None

    def _scenario_ended(self, event: ScenarioEnded) -> None:
        reason = event.failure.message if event.failure is not None else event.status.value
        if self._held is not None:
            self._request(self._held, StepFailure(reason))
            self._held = None
        elif event.status in (Status.FAILED, Status.ERROR):
            self._fire(SCENARIO, self.scenario, event.duration * 1000, 0, StepFailure(reason))
        for message in event.unexpected:
            name = f"{self.scenario} {message.conn}"
            self._fire(UNEXPECTED, name, 0, len(message.data), None)

    def _request(self, event: StepEnded, failure: Exception | None) -> None:
        self._fire(
            event.kind.upper(), self.name_of(event), _millis(event, self._http_latency), 0, failure
        )

    def name_of(self, event: StepEnded) -> str:
        """The request's name: the scenario's, then the step's label."""
        label = self.labels.get(event.location) or _file_line(event.location)
        return f"{self.scenario} {label}"

    def _fire(
        self, kind: str, name: str, millis: float, length: int, failure: Exception | None
    ) -> None:
        self.fired += 1
        self.fire(
            request_type=kind,
            name=name,
            response_time=millis,
            response_length=length,
            exception=failure,
            context=self.context,
        )


def _millis(event: StepEnded, http_latency: float | None) -> float:
    """The step's response time in ms: what the console shows for it."""
    if event.latency_from_send is not None:
        seconds = event.latency_from_send
    elif event.latency is not None:
        seconds = event.latency
    elif event.kind == "http" and http_latency is not None:
        seconds = http_latency
    else:
        seconds = event.duration
    return seconds * 1000


def _file_line(location: str) -> str:
    """``scenarios/chat.yaml:12:5`` → ``chat.yaml:12``."""
    path, _, rest = location.rpartition(":")
    if not path or not rest.isdigit():
        return location
    file, _, line = path.rpartition(":")
    if not file:
        return location
    return f"{file.rsplit('/', 1)[-1]}:{line}"
