"""The suite's services: rendering the models, and refusing what cannot be rendered (no sockets)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from runner.errors import Location, ScenarioError, ServiceError
from runner.events import Event, ServiceOutput
from runner.executor.clock import Clock
from runner.executor.suite_services import SuiteServices
from runner.scenario import Service, SuiteFile
from runner.scenario.rendering import render_service

WHERE = Location("wsrun-suite.yaml", 3, 5)


def declared(**fields: Any) -> Service:
    """A service as the loader hands it over: validated, templates unrendered, located."""
    written = {"name": "api", "command": ["serve"], "ready": {"log": "up"}, **fields}
    model = Service.model_validate(written)
    model.location = WHERE
    return model


def test_command_env_and_ready_are_rendered_and_the_rest_kept() -> None:
    model = declared(
        command=["serve", "--port", "${port}", "--name=${who}"],
        env={"PORT": "${port}", "MODE": "fast"},
        ready={"port": "${port}"},
        provides={"url": "ws://127.0.0.1:${port}"},
        cwd="/srv",
        timeout="2s",
    )
    rendered = render_service(model, {"port": 9000, "who": "me"})
    assert rendered.command == ["serve", "--port", "9000", "--name=me"]
    assert rendered.env == {"PORT": "9000", "MODE": "fast"}
    assert (rendered.ready.port, rendered.ready.url, rendered.ready.log) == (9000, None, None)
    assert rendered.provides == {"url": "ws://127.0.0.1:${port}"}  # rendered from the captures
    assert (rendered.cwd, rendered.timeout, rendered.location) == ("/srv", 2.0, WHERE)
    assert model.command[2] == "${port}"  # the loaded model is left as it was


def test_a_port_given_as_a_string_of_digits_becomes_a_number() -> None:
    rendered = render_service(declared(ready={"port": "${port}"}), {"port": "8080"})
    assert rendered.ready.port == 8080


def test_a_port_that_renders_to_no_number_is_an_error_at_the_service() -> None:
    with pytest.raises(ScenarioError) as caught:
        render_service(declared(ready={"port": "${port}"}), {"port": "abc"})
    assert caught.value.location == WHERE
    assert caught.value.message.startswith("ready.port: ")
    assert caught.value.message.endswith(" once rendered")
    assert caught.value.found == "'abc'"


def test_a_service_that_cannot_be_rendered_does_not_start(tmp_path: Path) -> None:
    suite_file = SuiteFile(tmp_path / "wsrun-suite.yaml", {}, [declared(command=["${nope}"])])
    events: list[Event] = []
    services = SuiteServices(suite_file, Clock(), events.append)
    with pytest.raises(ServiceError) as caught:
        services.start()
    assert caught.value.name == "api"
    assert caught.value.message == "wsrun-suite.yaml:3:5: unknown variable 'nope'"
    [output] = events
    assert isinstance(output, ServiceOutput)
    assert output.reason == "did not start: wsrun-suite.yaml:3:5: unknown variable 'nope'"
    services.stop()  # nothing started: nothing to stop, no event


def test_provides_that_cannot_be_rendered_stop_the_run_cleanly(tmp_path: Path) -> None:
    up = [sys.executable, "-c", "print('up', flush=True); import time; time.sleep(60)"]
    model = declared(command=up, provides={"who": "${me}"})
    events: list[Event] = []
    services = SuiteServices(SuiteFile(tmp_path / "s.yaml", {}, [model]), Clock(), events.append)
    try:
        with pytest.raises(ServiceError, match="unknown variable 'me'"):
            services.start()
    finally:
        services.stop()
    assert [type(e).__name__ for e in events] == ["ServiceOutput", "ServiceStopped"]


def test_no_suite_file_means_no_services() -> None:
    events: list[Event] = []
    services = SuiteServices(None, Clock(), events.append)
    assert services.start() == {}
    services.stop()
    assert events == []
