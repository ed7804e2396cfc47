"""The scenario language: YAML files → validated models, ready for the executor.

source       YAML → plain values with the location of every value (YAML 1.2 rules)
canonical    the ways steps are written → one form per kind
steps/files  the pydantic models (steps, scenario, library, suite file)
step_dispatch  a file's steps validated by their kind's model alone (not the union of every kind)
diagnostics  pydantic errors → ScenarioErrors at file:line:col, with "did you mean"
libraries    imports and `use` expansion
checks       connection names and variables in scope
loader       `load_suite`: files and folders → `Suite`
templates    `${...}` rendering; rendering: steps and variables at run time
schema       the JSON Schemas of the files

The modules that define models write their annotations as objects, not strings (no ``from
__future__ import annotations``): pydantic compiles a string annotation again for every subclass
that inherits it, ~10 ms of a ``wsrun validate`` (tests/unit/scenario/test_models_speed16b_s.py).
"""

from __future__ import annotations

from runner.scenario.files import SUITE_FILE_NAME, Service, SuiteConfig
from runner.scenario.loader import Scenario, Suite, SuiteFile, load_suite, validate_paths
from runner.scenario.rendering import render_step, render_variables
from runner.scenario.steps import (
    BinaryData,
    CloseStep,
    ConnectStep,
    ExpectCloseStep,
    ExpectStep,
    IgnoreRule,
    ProxyServer,
    RunStep,
    SendStep,
    SleepStep,
    Step,
    TlsOptions,
    UseStep,
)
from runner.scenario.templates import render

__all__ = [
    "SUITE_FILE_NAME",
    "BinaryData",
    "CloseStep",
    "ConnectStep",
    "ExpectCloseStep",
    "ExpectStep",
    "IgnoreRule",
    "ProxyServer",
    "RunStep",
    "Scenario",
    "SendStep",
    "Service",
    "SleepStep",
    "Step",
    "Suite",
    "SuiteConfig",
    "SuiteFile",
    "TlsOptions",
    "UseStep",
    "load_suite",
    "render",
    "render_step",
    "render_variables",
    "validate_paths",
]
