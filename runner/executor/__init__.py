"""The executor: runs validated scenarios over the client core and emits events.

```python
from runner.events import EventBus
from runner.executor import RunOptions, run_suite, select

bus = EventBus()
bus.subscribe(print)
status = run_suite(suite, select(suite.scenarios, "chat", []), RunOptions(jobs=4), bus.emit)
```

Modules: `clock` (deadlines), `inbox` (a connection's waiting messages), `connection` (one
WebSocket and its listeners), `step_registry` (one runner per step model, `Outcome`, `Wait`),
`steps` and `expect` (the runners), `context` (what a scenario's steps share), `scenario_run`
(one scenario), `suite_services` (the suite's services, as events), `suite_run` (services, the
thread pool, Ctrl-C), `processes` (``--processes``: the pool spread over worker processes),
`selection` (``-k``, ``--tag``).
"""

from runner.executor.selection import KeywordError, select
from runner.executor.suite_run import RunOptions, run_suite

__all__ = ["KeywordError", "RunOptions", "run_suite", "select"]
