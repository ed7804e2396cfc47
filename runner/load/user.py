"""`ScenarioUser`: a Locust user whose journey is a wsrun scenario.

Each virtual user runs its scenario (a parametrize row: user `i` takes row ``i % rows``) from
its first step to its last through wsrun's own executor, then waits (`wait_time`) and starts
again; a failing step ends the iteration (its connections are closed) and the next begins.
Every step is a Locust request (see `runner.load.reporter`).

From a hand-written locustfile::

    from runner.load import ScenarioUser

    class Chat(ScenarioUser):
        scenario = "scenarios/02-chat.yaml"
        vars = {"base_url": "ws://127.0.0.1:8765"}

The scenario is loaded, and its suite's services started, on the first user of the class in
each process; the services stop when Locust quits.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, ClassVar

import gevent
from gevent import GreenletExit
from locust import User, task
from locust.env import Environment

from runner.executor.scenario_run import ScenarioRunner
from runner.load.plan import Plan, load_plan
from runner.load.reporter import StepReporter

__all__ = ["ScenarioUser"]

# Importing wsrun's executor takes a while, and gevent's loop keeps the time of its last turn:
# a timer set right after this import (a locustfile's, as Locust's --run-time) would count from
# before it and fire that much early.
gevent.get_hub().loop.update_now()

#: How long a user stopped by Locust waits for each connection's closing handshake (seconds).
STOP_CLOSE_WAIT = 0.2
#: How long an idle user sleeps at a time, until Locust stops it (seconds).
IDLE = 60.0


class ScenarioUser(User):
    """A Locust user that runs `scenario` (a path) over and over.

    Class attributes:
        scenario: the scenario file (or folder: its scenarios are spread over the users).
        vars: variables, as ``--var`` gives them.
        iterations: how many times each user runs it (None: until the test stops).
        plan: set by ``wsrun load`` (already loaded, services started); else built on the
            first user from `scenario` and `vars`.
    """

    abstract = True
    scenario: ClassVar[str | None] = None
    vars: ClassVar[dict[str, str]] = {}
    iterations: ClassVar[int | None] = None
    plan: ClassVar[Plan | None] = None
    fired: ClassVar[int] = 0  # requests fired by the users of this process, all classes
    _numbers: ClassVar[itertools.count[int]] = itertools.count()
    _plan_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.number = next(ScenarioUser._numbers)
        self.done = 0
        self._runner: ScenarioRunner | None = None

    @classmethod
    def the_plan(cls, environment: Environment) -> Plan:
        """The class's plan, loaded (and its services started) on first use."""
        with cls._plan_lock:
            if cls.plan is None:
                if cls.scenario is None:
                    raise ValueError(f"{cls.__name__}: set `scenario` to a scenario file")
                plan = load_plan([cls.scenario], cls.vars)
                plan.start_services(print)
                quitting = environment.events.quitting
                quitting.add_listener(lambda **_: plan.stop_services())  # type: ignore[no-untyped-call]
                cls.plan = plan
            return cls.plan

    @task
    def iteration(self) -> None:
        """One run of the scenario, every step reported; after `iterations`, the user idles
        (were it to stop, Locust would start another in its place) until the test ends."""
        plan = self.the_plan(self.environment)
        if self.iterations is not None and self.done >= self.iterations:
            plan.user_finished()
            while True:
                gevent.sleep(IDLE)
        scenario = plan.scenario_for(self.number)
        context = {"scenario": scenario.name, "row": scenario.row, "user": self.number}
        reporter = StepReporter(scenario.name, plan.labels, self._fire, context)
        self._runner = ScenarioRunner(
            scenario, self.number, plan.variables, clock=plan.clock, emit=reporter, stop=plan.stop
        )
        try:
            self._runner.run()
        except GreenletExit:  # Locust stopped this user mid-iteration: drop its connections
            self._drop()
            raise
        finally:
            self._runner = None
        self.done += 1

    def _fire(self, **request: Any) -> None:
        ScenarioUser.fired += 1
        self.environment.events.request.fire(**request)

    def _drop(self) -> None:
        runner = self._runner
        if runner is None:
            return
        for conn in list(runner.ctx.connections.values()):
            try:
                conn.shut(STOP_CLOSE_WAIT)
            except Exception:  # the user is going away; nothing more to tell
                continue
