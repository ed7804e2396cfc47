"""The models of whole files: a scenario, a library of step blocks, and the suite file."""

import re
from typing import Annotated, Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from runner.errors import Location
from runner.matching import compile_pattern
from runner.scenario.fields import Duration, Model, TemplatedInt
from runner.scenario.replies import ReplyRule
from runner.scenario.step_dispatch import DispatchedStep
from runner.scenario.steps import NOWHERE, IgnoreRule, Step

__all__ = [
    "SUITE_FILE_NAME",
    "Block",
    "ImportSpec",
    "LibraryFile",
    "Ready",
    "ScenarioFile",
    "Service",
    "SuiteConfig",
]

#: The name of the suite file of a scenarios folder.
SUITE_FILE_NAME = "wsrun-suite.yaml"
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _check_names(names: dict[str, Any], what: str) -> dict[str, Any]:
    for name in names:
        if not _VARIABLE.fullmatch(name) or name == "env":
            raise ValueError(f"{what} {name!r} is not a valid name (letters, digits, _ and -)")
    return names


class ImportSpec(Model):
    """A library to import, by path relative to the importing file."""

    path: str = Field(description="the library file, relative to the importing file")
    as_: str | None = Field(
        None, alias="as", description="the namespace of its blocks (default: the file's stem)"
    )


class ScenarioFile(Model):
    """A scenario: connections, messages to send, and messages to expect."""

    name: str | None = Field(None, description="the scenario's name (default: the file's stem)")
    description: str = Field("", description="what the scenario checks")
    tags: list[str] = Field(default_factory=list, description="tags to select scenarios by")
    vars: dict[str, Any] = Field(
        default_factory=dict, description="variables, referenced as ${name}"
    )
    timeout: Duration = Field(5.0, description="default wait of expect and expect_close steps")
    ignore: list[IgnoreRule] = Field(
        default_factory=list, description="messages dropped as noise by every expect step"
    )
    reply: list[ReplyRule] = Field(
        default_factory=list,
        description="auto-replies on every connection: a message that matches `when` is "
        "answered with `send` at once and never reaches the steps",
    )
    fail_on_unexpected: bool = Field(
        False,
        description="messages left unexpected at the end (not ignored, not auto-replied) "
        "fail the scenario",
    )
    parametrize: list[dict[str, Any]] | None = Field(
        None,
        min_length=1,
        description="rows of variables; the scenario runs once per row, as name[row id]",
    )
    imports: list[ImportSpec] = Field(
        default_factory=list, description="libraries whose blocks `use` steps may run"
    )
    # not strict: the loader hands the steps over as an iterator of their canonical forms
    steps: list[Annotated[Step, DispatchedStep()]] = Field(
        min_length=1, strict=False, description="the steps, in order"
    )

    @field_validator("vars")
    @classmethod
    def _variable_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_names(value, "variable")


class Block(Model):
    """A named, parametrised list of steps."""

    description: str = Field("", description="what the block does")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="parameters and their default values; null makes a parameter required",
    )
    steps: list[Annotated[Step, DispatchedStep()]] = Field(
        min_length=1, description="the steps, in order"
    )

    @field_validator("params")
    @classmethod
    def _parameter_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_names(value, "parameter")


class LibraryFile(Model):
    """A library of step blocks that scenarios import and run with `use`."""

    description: str = Field("", description="what the library is for")
    imports: list[ImportSpec] = Field(
        default_factory=list, description="other libraries whose blocks these blocks use"
    )
    blocks: dict[str, Block] = Field(description="the blocks, by name")

    @field_validator("blocks")
    @classmethod
    def _block_names(cls, value: dict[str, Block]) -> dict[str, Block]:
        for name in value:
            if not _VARIABLE.fullmatch(name):
                raise ValueError(f"block name {name!r} is not valid (letters, digits, _ and -)")
        return value


class Ready(Model):
    """How to know that a service is ready: exactly one of port, url, log."""

    port: TemplatedInt | None = Field(None, description="a TCP port on 127.0.0.1 accepts")
    url: str | None = Field(None, description="a ws://, wss:// or http(s):// URL accepts")
    log: str | None = Field(
        None,
        description="a regular expression found in a line of the service's output; its named "
        "groups become variables",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        written = [n for n in ("port", "url", "log") if getattr(self, n) is not None]
        if len(written) != 1:
            raise ValueError(
                f"expected exactly one of port, url, log; found {', '.join(written) or 'none'}"
            )
        return self

    @field_validator("log")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)  # RE2, as the supervisor; a PatternError is a ValueError
        return value


# The one model of a service (its docstring is the schema's description): the executor renders
# it (`executor.suite_services.render_service`) and `runner.supervisor` runs it as it is.
class Service(Model):
    """A process started before the scenarios run and stopped after them."""

    name: str = Field(description="the service's name")
    location: SkipJsonSchema[Location] = Field(
        NOWHERE, exclude=True, description="where the service is written"
    )
    command: list[str] | str = Field(
        description="the command: a list of arguments, or a string run by the shell"
    )
    cwd: str = Field(".", description="the working folder, relative to the suite file")
    env: dict[str, str] = Field(
        default_factory=dict, description="extra environment variables of the process"
    )
    ready: Ready = Field(description="how to know the service is ready")
    timeout: Duration = Field(10.0, description="how long the service may take to be ready")
    provides: dict[str, str] = Field(
        default_factory=dict,
        description="variables the service gives the later services and the scenarios: name → "
        "template over the suite's vars, what earlier services provide and the ready step's "
        "captures",
    )

    @field_validator("command")
    @classmethod
    def _not_empty(cls, value: list[str] | str) -> list[str] | str:
        if not value:
            raise ValueError("expected a command, found an empty one")
        return value

    @field_validator("provides")
    @classmethod
    def _variable_names(cls, value: dict[str, str]) -> dict[str, str]:
        _check_names(value, "variable")
        return value


class SuiteConfig(Model):
    """The suite file: variables shared by every scenario, and services to start first."""

    vars: dict[str, Any] = Field(
        default_factory=dict, description="variables shared by every scenario"
    )
    services: list[Service] = Field(
        default_factory=list, description="processes to start before the scenarios run"
    )

    @field_validator("vars")
    @classmethod
    def _variable_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_names(value, "variable")

    @field_validator("services")
    @classmethod
    def _unique(cls, value: list[Service]) -> list[Service]:
        names = [service.name for service in value]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"service names must be unique; found {', '.join(duplicates)} twice")
        return value
