"""Load mode: wsrun scenarios as Locust users (``wsrun load``, or a hand-written locustfile).

Locust monkey-patches the standard library with gevent when it is imported: only ``wsrun load``
and locustfiles import it (`ScenarioUser` is imported on first use, so that ``wsrun load``
checks its arguments first); ``wsrun run`` never does.

plan        the scenarios to run, their variables and services (no Locust)
reporter    wsrun's events → Locust request events (no Locust)
thresholds  ``--threshold`` rules (no Locust)
user        `ScenarioUser`, the Locust user that runs a scenario
cli         ``wsrun load``
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.load.user import ScenarioUser

__all__ = ["ScenarioUser"]


def __getattr__(name: str) -> Any:
    if name == "ScenarioUser":
        from runner.load.user import ScenarioUser

        return ScenarioUser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
