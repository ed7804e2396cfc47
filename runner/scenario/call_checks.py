"""Load-time checks of `call` steps: the connection they use must speak a protocol that has a
call, and the request must be one that protocol takes (its `request_model`), errors located at
the key written. A call whose connection's connect is not known here is checked when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from runner.errors import ScenarioError
from runner.scenario.diagnostics import document_path, translate
from runner.scenario.libraries import Placed
from runner.scenario.steps import DEFAULT_CONN, ConnectStep
from runner.scenario.steps_call import CallStep

__all__ = ["check_calls"]


def check_calls(steps: Sequence[Placed], errors: list[ScenarioError]) -> None:
    """Report each call on a connection without a protocol, and each request its protocol
    refuses (the steps' connections are resolved already)."""
    _walk(steps, {}, errors)


def _walk(
    steps: Sequence[Placed], spoken: dict[str, str | None], errors: list[ScenarioError]
) -> None:
    for placed in steps:
        step = placed.step
        if isinstance(step, ConnectStep):
            spoken[step.conn or DEFAULT_CONN] = step.protocol
        elif isinstance(step, CallStep) and step.conn in spoken:
            _check(placed, step, spoken[step.conn], errors)
        if placed.body is not None:
            _walk(placed.body, spoken, errors)


def _check(
    placed: Placed, step: CallStep, protocol: str | None, errors: list[ScenarioError]
) -> None:
    document = placed.origin.document
    if protocol is None:
        errors.append(
            document.error(
                f"call on connection {step.conn!r}, which speaks no protocol",
                step.location,
                hint="its connect needs protocol: (e.g. protocol: json-rpc)",
            )
        )
        return
    from runner.protocols.registry import UnknownProtocol, protocol_class

    try:
        model = protocol_class(protocol).request_model
    except UnknownProtocol:
        return  # its connect step says so already
    if model is None:
        errors.append(document.error(f"the {protocol} protocol has no call", step.location))
        return
    try:
        model.model_validate(step.request())
    except ValidationError as error:
        body, _ = document_path(document.value, placed.origin.path, (step.kind,))
        errors.extend(translate(error, document, body, model))
