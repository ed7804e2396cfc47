"""The runner of `call` (a request with a fresh id on a protocol connection, and its reply),
and `start_protocol`, which gives a connection its protocol before `connect` opens it.

The call sends ``protocol.call(request, id)`` and waits, like `expect`, on the connection's
inbox for the envelope whose `reply_to` is the key the protocol returned; the reply must then
match the step's `expect`. Its latency runs from the request's send to the reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runner.client import BusinessError, ConnectOptions
from runner.executor.connection import Connection
from runner.executor.context import ScenarioContext
from runner.executor.expect import InboxWait, close_detail, violation_message
from runner.executor.failures import ConnectionFailed, StepFailed
from runner.executor.inbox import Message, NoMatch, Verdict
from runner.executor.step_registry import Outcome, runs
from runner.matching import Matcher, extract_saves
from runner.scenario.fields import RENDERED
from runner.scenario.steps import ConnectStep
from runner.scenario.steps_call import CallStep

if TYPE_CHECKING:
    from runner.protocols.base import Protocol

__all__ = ["ARRIVED_SHOWN", "CallWait", "run_call", "start_protocol"]

#: How many of the envelopes that arrived while a call waited its failure shows.
ARRIVED_SHOWN = 5


def start_protocol(
    conn: Connection, step: ConnectStep, options: ConnectOptions
) -> tuple[str, ConnectOptions]:
    """Give `conn` the protocol of a rendered connect step: its options validated (rendered),
    the URL it opens and the subprotocols it offers (its own first)."""
    import dataclasses

    from runner.protocols.registry import UnknownProtocol, check_options, protocol_class

    assert step.protocol is not None
    try:
        cls = protocol_class(step.protocol)
        settings = check_options(step.protocol, step.protocol_options, RENDERED)
    except (UnknownProtocol, ValidationError) as error:
        message = f"protocol {step.protocol}: {_first_error(error)}"
        raise ConnectionFailed(message, conn.name, step.location) from None
    protocol = cls(settings)
    conn.protocol = protocol
    written = [p.strip() for p in (options.protocol or "").split(",") if p.strip()]
    offered = [*protocol.subprotocols, *(p for p in written if p not in protocol.subprotocols)]
    options = dataclasses.replace(options, protocol=", ".join(offered) or None)
    return protocol.url(step.url), options


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(error)


@runs(CallStep, inline=True)
def run_call(ctx: ScenarioContext, step: CallStep) -> CallWait:
    """Send the request with a fresh id; wait for the reply with that id."""
    return CallWait(ctx, step)


class CallWait(InboxWait):
    """A call step's wait: the reply's key, its matcher, and what else arrived meanwhile."""

    def __init__(self, ctx: ScenarioContext, step: CallStep) -> None:
        self.spec = spec = ctx.rendered(step)
        conn = ctx.connection(step)
        protocol = conn.protocol
        if protocol is None:
            raise StepFailed(
                f"call on {conn.name!r}, which speaks no protocol (its connect has no `protocol:`)",
                step.location,
                conn=conn.name,
            )
        self.protocol: Protocol = protocol
        self.request = request = _checked(protocol, spec, conn)
        self.matcher: Matcher | None = None
        if step.expect is not None and spec.expect is not None and spec.expect.matchers():
            self.matcher = ctx.matcher(step.expect, spec.expect)
        call_id = conn.next_call_id()
        try:
            frames, self.key = protocol.call(request, call_id)
        except ValueError as error:
            message = f"call on {conn.name!r}: {protocol.name} cannot send {request}: {error}"
            raise StepFailed(message, step.location, conn=conn.name) from None
        self.arrived: list[str] = []  # envelopes that came meanwhile (the last few)
        self.reply: Message | None = None
        super().__init__(ctx, step, ctx.deadline(spec.timeout), first_only=False)
        try:
            for frame in frames:
                conn.send(frame, {**request, "id": call_id})  # what -v and reports show
        except BusinessError as error:
            message = f"cannot send the call on {conn.name!r}: {error.message}"
            raise ConnectionFailed(message, conn.name, step.location) from None
        self.sent_at = conn.last_send_at if conn.last_send_at is not None else self.start

    def judge(self, message: Message) -> Verdict:
        if message.reply_to == self.key:
            self.reply = message
            return Verdict(True)
        if len(self.arrived) >= ARRIVED_SHOWN:
            del self.arrived[0]
        data = message.data
        self.arrived.append(data if isinstance(data, str) else f"({len(data)} bytes)")
        return Verdict(False)

    def finish(self) -> Outcome:
        outcome = self.outcome
        if isinstance(outcome, NoMatch):
            raise self._failed(outcome.why, outcome.detail)
        assert isinstance(outcome, Message)
        captures: dict[str, object] = {}
        if self.matcher is not None:
            result = self.matcher.match(outcome.data)
            if not result.ok:
                raise StepFailed(
                    f"the reply to the {self.protocol.name} call on {self.conn.name!r} did "
                    f"not match (request: {_shown(self.request)})",
                    self.spec.location,
                    conn=self.conn.name,
                    expected=self.matcher.description,
                    closest=outcome.data,
                    reason=result.reason,
                    diff=self.matcher.diff(outcome.data),
                )
            captures = result.captures
        self.ctx.variables.update(captures)
        if self.spec.save:
            saved = extract_saves(self.spec.save, outcome.data, captures, self.spec.location)
            self.ctx.variables.update(saved)
        latency = max(0.0, outcome.at - self.sent_at)
        return Outcome(conn=self.conn.name, latency=latency, latency_from_send=latency)

    def expired(self) -> Outcome:
        raise self._failed("timeout", "")

    def _failed(self, why: str, detail: str) -> StepFailed:
        conn, name = self.conn, self.protocol.name
        waited = self.ctx.clock.now() - self.start
        request = _shown(self.request)
        if why == "closed" and conn.abnormal is not None and conn.abnormal.violation:
            head = violation_message(conn, "call")
        elif why == "closed":
            head = (
                f"the connection {conn.name!r} closed before the reply to the {name} call "
                f"{request}{close_detail(conn)}"
            )
        elif why == "malformed":
            head = f"a malformed frame arrived on {conn.name!r} while the {name} call waited: "
            head += detail
        elif why == "refused":
            head = f"the server refused the {name} call {request} on {conn.name!r}: {detail}"
        else:
            head = f"no reply to the {name} call {request} on {conn.name!r} within {waited:.3f}s"
        arrived = "; ".join(self.arrived) if self.arrived else "nothing"
        return StepFailed(
            f"{head}; arrived meanwhile: {arrived}",
            self.spec.location,
            conn=conn.name,
            expected=f"the {name} reply {self.key}"
            + (f": {self.matcher.description}" if self.matcher is not None else ""),
        )


def _checked(protocol: Protocol, spec: CallStep, conn: Connection) -> dict[str, Any]:
    """The rendered request, validated by the protocol's request model."""
    request = spec.request()
    model = protocol.request_model
    if model is None:
        message = f"call on {conn.name!r}: the {protocol.name} protocol has no call"
        raise StepFailed(message, spec.location, conn=conn.name)
    try:
        model.model_validate(request, context=RENDERED)
    except ValidationError as error:
        message = f"call on {conn.name!r}: {protocol.name} request: {_first_error(error)}"
        raise StepFailed(message, spec.location, conn=conn.name) from None
    return request


def _shown(request: dict[str, Any]) -> str:
    from runner.executor.connection import envelope_text

    text = envelope_text(request)
    return text if len(text) <= 200 else f"{text[:200]}… ({len(text)} characters)"
