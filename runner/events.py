"""The events a run emits, in one typed stream.

The executor emits these; reporters (console, JSON, JUnit) subscribe to an `EventBus` and render
them. Nothing renders by parsing logs. Every event carries `at`, seconds since the run started on
the monotonic clock; events of one scenario carry its `scenario` index (its position in the run).
A listener that raises is contained by the bus: it gets no more events, and its failure is kept
(`EventBus.failures`) for the CLI to report; the run and the other listeners go on.
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

__all__ = [
    "AutoReplied",
    "ConnectionClosed",
    "ConnectionOpened",
    "ErrorOccurred",
    "Event",
    "EventBus",
    "Failure",
    "FrameReceived",
    "FrameSent",
    "HandshakeRefused",
    "HttpExchanged",
    "Listener",
    "ListenerFailure",
    "RunEnded",
    "RunStarted",
    "ScenarioEnded",
    "ScenarioStarted",
    "ServiceOutput",
    "ServiceStarted",
    "ServiceStopped",
    "Status",
    "StepEnded",
    "StepStarted",
    "Traffic",
    "TranscriptEntry",
    "Unexpected",
    "taken",
]

Payload = str | bytes
_T = TypeVar("_T")


class Status(StrEnum):
    """The result of a step, a scenario or a run."""

    PASSED = "passed"
    FAILED = "failed"  # an expectation did not hold
    ERROR = "error"  # the connection failed, or wsrun itself did
    INTERRUPTED = "interrupted"  # Ctrl-C while it ran
    SKIPPED = "skipped"  # never started (--fail-fast, Ctrl-C)


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line of a connection's history: open, sent, received, close or error."""

    at: float
    conn: str
    event: str
    data: Payload
    wire_size: int | None = None  # of a sent or received message: its payload bytes on the wire


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a scenario failed, with what a person needs to see to fix it.

    Attributes:
        message: what was expected and what was found, in one line.
        location: the failing step's ``file:line:col``.
        step: the failing step's index (from 0), or None outside a step.
        kind: the failing step's kind (``expect``, ``connect``...).
        conn: the connection the step used.
        expected: what the step expected, rendered for a person.
        closest: the received message that came closest to matching.
        reason: why `closest` did not match.
        diff: a unified diff between expected and closest JSON.
        recent: the connection's last transcript entries.
        traceback: set when wsrun itself failed (an internal error).
    """

    message: str
    location: str | None = None
    step: int | None = None
    kind: str | None = None
    conn: str | None = None
    expected: str | None = None
    closest: Payload | None = None
    reason: str | None = None
    diff: str | None = None
    recent: tuple[TranscriptEntry, ...] = ()
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class Unexpected:
    """A message that arrived and that no step expected."""

    at: float
    conn: str
    data: Payload


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event: `at` is seconds since the run started (monotonic clock)."""

    type: ClassVar[str] = "event"
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    """The run begins: how many scenarios, with how many workers."""

    type: ClassVar[str] = "run_started"
    started_at: str  # ISO 8601, wall clock
    scenarios: int
    jobs: int
    version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnded(Event):
    """The run is over; `status` is the run's result."""

    type: ClassVar[str] = "run_ended"
    status: Status
    duration: float
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStarted(Event):
    """A suite service is ready; `provides` are the variables it gives the scenarios."""

    type: ClassVar[str] = "service_started"
    service: str
    provides: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceOutput(Event):
    """What a service printed so far, shown when a scenario fails or a service does not start."""

    type: ClassVar[str] = "service_output"
    service: str
    output: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStopped(Event):
    """A service was stopped at the end of the run; `output` is all it printed."""

    type: ClassVar[str] = "service_stopped"
    service: str
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioStarted(Event):
    """A scenario begins."""

    type: ClassVar[str] = "scenario_started"
    scenario: int
    name: str
    file: str
    line: int
    steps: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioEnded(Event):
    """A scenario is over (or was never started: `status` is skipped)."""

    type: ClassVar[str] = "scenario_ended"
    scenario: int
    name: str
    status: Status
    duration: float
    steps_passed: int
    steps_total: int
    failure: Failure | None = None
    unexpected: tuple[Unexpected, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(Event):
    """A step begins; `summary` is a one-line description of it."""

    type: ClassVar[str] = "step_started"
    scenario: int
    index: int
    kind: str
    location: str
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepEnded(Event):
    """A step is over. Expect steps record their latency in seconds.

    `latency` runs from the step's start to the match; `latency_from_send` from the last send on
    the same connection to the match (None when nothing was sent on it yet). `started` and
    `summary` repeat its `StepStarted`'s `at` and `summary`, so that a report can keep one line
    a step (the JSON report writes no step_started lines).
    """

    type: ClassVar[str] = "step_ended"
    scenario: int
    index: int
    kind: str
    location: str
    status: Status
    duration: float
    conn: str | None = None
    latency: float | None = None
    latency_from_send: float | None = None
    note: str | None = None  # how a step that passes either way ended (an optional expect)
    started: float | None = None  # its StepStarted's `at`
    summary: str = ""  # its StepStarted's `summary`


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOpened(Event):
    """The opening handshake succeeded (RFC 6455 4.1)."""

    type: ClassVar[str] = "connection_opened"
    scenario: int
    conn: str
    url: str
    status: int
    protocol: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameSent(Event):
    """A message was sent: `data` is str for text, bytes for binary.

    Emitted once the frame is built and before it is written, so that an echo's
    `FrameReceived` never comes before it."""

    type: ClassVar[str] = "frame_sent"
    scenario: int
    conn: str
    data: Payload
    wire_size: int | None = None  # payload bytes on the wire (less than data, compressed)
    #: On a connection with a protocol: the frame's envelopes (one usually; none for a part
    #: of an MQTT packet, several for a frame of several). None: no protocol on it.
    envelopes: list[dict[str, Any]] | None = None
    heartbeat: bool = False  # a protocol's keep-alive (shown with -v only)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameReceived(Event):
    """A message arrived: `data` is str for text, bytes for binary."""

    type: ClassVar[str] = "frame_received"
    scenario: int
    conn: str
    data: Payload
    wire_size: int | None = None  # payload bytes on the wire (less than data, compressed)
    #: On a connection with a protocol: the frame's envelopes (one usually; none for a part
    #: of an MQTT packet, several for a frame of several). None: no protocol on it.
    envelopes: list[dict[str, Any]] | None = None
    heartbeat: bool = False  # a protocol's keep-alive (shown with -v only)


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoReplied(Event):
    """A message matched a `reply` rule: it was answered with `sent` and kept from the steps.

    `rule` is the rule's position in the connection's rules (the connect step's, then the
    scenario's), from 0.
    """

    type: ClassVar[str] = "auto_replied"
    scenario: int
    conn: str
    received: Payload
    sent: Payload
    rule: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeRefused(Event):
    """The server refused the handshake with the HTTP status the connect step expected."""

    type: ClassVar[str] = "handshake_refused"
    scenario: int
    conn: str
    url: str
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpExchanged(Event):
    """An `http` step's request and its answer: `status` is None when none came (`error` says
    why); `latency` runs from the request to the response's end, in seconds."""

    type: ClassVar[str] = "http_request"
    scenario: int
    method: str
    url: str
    status: int | None
    latency: float
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(Event):
    """The connection closed, with the close frame's code and reason (RFC 6455 7.1.5, 7.1.6).

    `by` says who ended it: ``client`` (wsrun: a close step, the end of the scenario, a
    connection it failed or dropped), ``server`` (it sent the first Close frame), or "" when
    the link was lost with no closing handshake.
    """

    type: ClassVar[str] = "connection_closed"
    scenario: int
    conn: str
    code: int
    reason: str
    was_clean: bool
    traffic: Traffic | None = None  # a compressed connection's bytes (None: not compressed)
    by: str = ""


@dataclass(frozen=True, slots=True)
class Traffic:
    """Bytes of the messages of a connection, and of their payloads on the wire (compressed,
    with permessage-deflate; frame headers are not counted)."""

    sent: int = 0
    sent_wire: int = 0
    received: int = 0
    received_wire: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorOccurred(Event):
    """The client core reported an error on a connection (its `error` event)."""

    type: ClassVar[str] = "error"
    scenario: int
    conn: str
    code: int
    message: str
    data: str | None = None


def _quick_init(cls: type) -> None:
    """Give the frozen dataclass `cls` an ``__init__`` that sets its slots without its frozen
    ``__setattr__``: the same signature, defaults and result, in a fraction of the time of the
    one `dataclasses` writes (which calls ``object.__setattr__`` for each field). For the events
    a send/expect pair emits by the thousand: their construction was a tenth of a pair's cost.

    With three fields or more, the instance is made a `_builder` of its class for the time of
    its ``__init__`` (one class change each way), whose plain attribute stores cost a third of
    a slot's ``__set__`` call; with fewer, each slot is set through its descriptor.
    """
    params, lines, scope = _slot_setters(cls)
    star = "*, " if all(f.kw_only for f in dataclasses.fields(cls)) else ""
    if len(params) >= 3:
        scope["_set_class"] = _SET_CLASS
        lines = [
            "    _set_class(self, _builder)",
            *(f"    self.{f.name} = {f.name}" for f in dataclasses.fields(cls)),
            "    self.__class__ = _cls",
        ]
    source = f"def __init__(self, {star}{', '.join(params)}):\n" + "\n".join(lines) + "\n"
    exec(source, scope)  # our own fields' names and defaults: no outside input
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]


def _positional(cls: type[_T]) -> Callable[..., _T]:
    """A function that makes a `cls` (a frozen dataclass with slots) from the values of all its
    fields, given in their declared order, positional: what ``cls(**fields)`` makes, in a
    fraction of its time for an event of a dozen keyword-only fields (a call with keywords to a
    class builds a dict of them, which its ``__init__`` takes apart again). The instance is
    made a `_builder` of `cls`, its fields stored as plain attributes, then given its class.

    For the hot path alone (a passed step's `StepEnded`), where every field is written out."""
    params, _, scope = _slot_setters(cls)
    names = [param.split("=")[0] for param in params]
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    source = (
        f"def make({', '.join(names)}):\n    self = _new(_builder)\n{body}"
        "    self.__class__ = _cls\n    return self\n"
    )
    exec(source, scope)  # our own fields' names: no outside input
    make: Callable[..., _T] = scope["make"]
    make.__qualname__ = f"{cls.__qualname__}, positional"
    return make


#: ``object``'s own setter of ``__class__`` (a frozen instance's ``__setattr__`` refuses it)
_SET_CLASS = object.__dict__["__class__"].__set__


def _builder(cls: type) -> type:
    """A subclass of the frozen slotted dataclass `cls` that adds no slot and keeps ``object``'s
    own ``__setattr__`` and ``__delattr__`` (both, so that its attribute stores take the
    interpreter's quick path for slots): an instance is one only while it is being made, then
    it is given `cls` as its class (the same layout, so the change is allowed)."""
    name = f"_{cls.__name__}Builder"
    namespace = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__module__": cls.__module__,
        "__qualname__": f"{cls.__qualname__}.{name}",
    }
    return type(name, (cls,), namespace)


def _slot_setters(cls: type) -> tuple[list[str], list[str], dict[str, Any]]:
    """The parameters (``name=_defaultN``) of `cls`'s fields and the lines that set each slot
    of ``self`` through its descriptor, with the scope they run in (which holds `cls` as
    ``_cls`` and its `_builder` as ``_builder``)."""
    assert "__post_init__" not in vars(cls), f"{cls.__name__}: a __post_init__"
    params, lines = [], []
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_builder": _builder(cls)}
    for number, f in enumerate(dataclasses.fields(cls)):
        assert f.default_factory is dataclasses.MISSING, f"{cls.__name__}.{f.name}: a factory"
        slot = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        scope[f"_set{number}"] = slot.__set__
        default = ""
        if f.default is not dataclasses.MISSING:
            scope[f"_default{number}"] = f.default
            default = f"=_default{number}"
        params.append(f"{f.name}{default}")
        lines.append(f"    _set{number}(self, {f.name})")
    return params, lines, scope


for _hot in (TranscriptEntry, StepStarted, StepEnded, FrameSent, FrameReceived):
    _quick_init(_hot)
#: `StepEnded` from its 13 fields, positional (at, scenario, index, kind, location, status,
#: duration, conn, latency, latency_from_send, note, started, summary): two a pair.
_step_ended = _positional(StepEnded)

Listener = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class ListenerFailure:
    """A listener that raised: the bus stopped calling it.

    Attributes:
        listener: the listener that raised.
        event: the event it was given when it raised.
        error: what it raised.
        traceback: `error` with its traceback, formatted as Python prints it.
    """

    listener: Listener
    event: Event
    error: BaseException
    traceback: str


def taken(emit: Callable[[Event], None], cls: type) -> bool:
    """Whether an event of `cls` given to `emit` may reach a listener: False only when `emit`
    says nobody takes it, as `EventBus.emit` itself or through a ``takes(cls)`` attribute (the
    CLI's redacting emitter). An emit that says nothing takes everything. Worked out when a
    scenario or a connection starts: a listener disabled later only makes it take less."""
    takes = getattr(emit, "takes", None)
    if takes is None:
        owner = getattr(emit, "__self__", None)
        takes = owner.takes if isinstance(owner, EventBus) else None
    return takes is None or bool(takes(cls))


class _Taken(dict[type, bool]):
    """`EventBus.takes`: whether any listener is given events of a class (worked out once per
    class, as by `emit`), so that what wraps `emit` (the redaction) need not look at an event
    nobody takes. Cleared when the listeners change, under the bus's lock."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self._bus = bus

    def __missing__(self, cls: type) -> bool:
        bus = self._bus
        with bus._lock:
            route = bus._routes.get(cls)
            if route is None:
                route = bus._route(cls)
            taken = self[cls] = bool(route)
        return taken


class EventBus:
    """Delivers each event to every listener, one event at a time, in the order emitted.

    Scenarios running on several threads emit concurrently; a lock keeps each listener's view
    sequential, so reporters need no locking of their own. A listener that raises is disabled
    under that same lock, so it misses nothing before its failure and sees nothing after it,
    and every other listener still gets every event: a reporter that fails (a closed pipe on
    stdout, a bug) never changes what the run does or what the other reporters see.

    A listener with an ``events`` attribute (a collection of event classes) is given only
    events of those classes: a reporter that shows nothing of a frame (the console with
    ``-q``) is not called for each one. A listener with a ``handler_for(cls)`` method is given
    the events of each class through the callable that method returns for it (None: not given
    them), so that a reporter's own dispatch by class is not paid again for every event. The
    bus works out once per event class who gets it, and how.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._failures: list[ListenerFailure] = []
        self._lock = threading.Lock()
        # event class -> its listeners, each with the callable that takes that class
        self._routes: dict[type, list[tuple[Listener, Listener]]] = {}
        # event class -> whether anyone takes it; `takes` is its look-up, a C call a class
        # asked before (the redacting emitter asks for every event: two events a pair)
        self._taken = _Taken(self)
        self.takes: Callable[[type], bool] = self._taken.__getitem__

    def subscribe(self, listener: Listener) -> None:
        """Add a listener; it sees every event emitted from now on (of its ``events``
        classes, if it says), until it raises."""
        with self._lock:
            self._listeners.append(listener)
            self._routes = {}
            self._taken.clear()

    def _route(self, cls: type) -> list[tuple[Listener, Listener]]:
        route = []
        for listener in self._listeners:
            handler_for = getattr(listener, "handler_for", None)
            if handler_for is not None:
                call = handler_for(cls)
            else:
                call = listener if cls in getattr(listener, "events", (cls,)) else None
            if call is not None:
                route.append((listener, call))
        self._routes[cls] = route
        return route

    def emit(self, event: Event) -> None:
        """Deliver `event` to every listener, in subscription order; never raises for them.

        SystemExit is contained too: rich's console raises it on a broken pipe, and a reporter
        must not end a run (least of all from a connection's thread). Ctrl-C still propagates.
        """
        if not self._routes.get(event.__class__, True):  # nobody takes it (frames with -q)
            return
        with self._lock:
            route = self._routes.get(event.__class__)
            for listener, call in self._route(event.__class__) if route is None else route:
                try:
                    call(event)
                except (Exception, SystemExit) as error:
                    self._disable(listener, event, error)

    @property
    def failures(self) -> tuple[ListenerFailure, ...]:
        """The listeners that raised, in the order they failed."""
        with self._lock:
            return tuple(self._failures)

    def _disable(self, listener: Listener, event: Event, error: BaseException) -> None:
        # Called under the lock, from the loop over `_listeners`: rebind the list, do not
        # mutate the one being iterated.
        self._listeners = [item for item in self._listeners if item is not listener]
        self._routes = {}
        self._taken.clear()
        text = "".join(traceback.format_exception(error))
        self._failures.append(ListenerFailure(listener, event, error, text))
