"""One named connection of a scenario: a client-core WebSocket, its inbox and its transcript.

Every listener is registered before `connect`, so the inbox holds every message from the moment
the connection opens. Listeners run on the connection's own thread; they only record and emit.

Each listener emits its event before it records what the steps read (the inbox's message, close
or error), and records it even when emitting raised. The event goes first to keep a connection's
events in order: once a message is in the inbox, the step it settles can end (and the next steps
run and emit) on this thread inside `Inbox.put`, or on the scenario's thread at once; its event
must come before theirs. The record goes in a ``finally`` so that no emitter, however broken,
can make a step miss a message or a close (`EventBus` already contains failing reporters).

A connection that ends abnormally (no closing handshake: 1006; or failed by wsrun because the
server broke RFC 6455: 1002, 1007, 1009...) keeps an `AbnormalEnd`: the scenario fails on it
unless a step expected it (``expect_close: {code: 1006}``). A protocol violation settles the
waiting step at once, before the closing handshake that follows it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.client import (
    BusinessError,
    CloseResult,
    ConnectOptions,
    ErrorCode,
    OpenResult,
    PreparedMessage,
    ProtocolError,
    ReadyState,
    WebSocket,
    create_websocket,
)
from runner.errors import WsrunError
from runner.events import (
    AutoReplied,
    ConnectionClosed,
    ConnectionOpened,
    ErrorOccurred,
    Event,
    FrameReceived,
    FrameSent,
    HandshakeRefused,
    Traffic,
    TranscriptEntry,
    taken,
)
from runner.executor.clock import POLL, Clock, Deadline, Interrupted
from runner.executor.inbox import Inbox, Message
from runner.executor.replies import AutoReply
from runner.scenario.outgoing import Outgoing

if TYPE_CHECKING:  # imported with the protocol: a connection without one needs none of it
    from runner.protocols.base import Frame, Incoming, Protocol, ProtocolFailure

__all__ = ["FRAME_SHOWN", "TRANSCRIPT_LENGTH", "AbnormalEnd", "Connection", "envelope_text"]

#: How much of a malformed frame a failure shows (characters of text, bytes of binary).
FRAME_SHOWN = 200


def envelope_text(envelope: Any) -> str:
    """An envelope as the inbox holds it: compact JSON text, as `send: {json: ...}` writes."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


#: How many of a connection's last events a failure shows.
TRANSCRIPT_LENGTH = 10

ABNORMAL_CLOSURE = 1006  # RFC 6455 7.4.1: the connection closed with no Close frame
#: The run clock's `Clock.now` is ``monotonic() - clock.start``: the message paths read it inline.
_monotonic = time.monotonic


@dataclass(frozen=True, slots=True)
class AbnormalEnd:
    """How and when a connection ended without a closing handshake.

    Attributes:
        at: run-clock time of the end (of the violation, for one).
        code: 1006 when the link was lost; the code wsrun failed the connection with after a
            protocol violation (1002, 1007, 1009...).
        reason: the client core's reason (``closing handshake timed out``), or what the server
            did wrong.
        during: the step running then (``step 3 (close)``).
        violation: whether the server broke the protocol (else the link was lost).
    """

    at: float
    code: int
    reason: str
    during: str
    violation: bool = False

    def describe(self, conn: str, base: float) -> str:
        """One line for a failure: what happened to `conn`, when (from `base`) and in which
        step."""
        when = f"at +{self.at - base:.3f}s, {self.during}"
        if self.violation:
            return (
                f"the server broke the protocol on {conn!r} {when}: {self.reason}; wsrun failed "
                f"the connection (close {self.code}, RFC 6455 7.1.7)"
            )
        why = f": {self.reason}" if self.reason else ""
        return (
            f"the connection {conn!r} was lost without a closing handshake ({self.code}{why}) "
            f"{when}"
        )


class Connection:
    """A WebSocket of one scenario, with everything the steps need to know about it."""

    def __init__(
        self,
        name: str,
        scenario: int,
        clock: Clock,
        emit: Callable[[Event], None],
        stop: threading.Event,
        during: Callable[[], str] = str,
    ) -> None:
        self.name = name
        self.scenario = scenario
        self.clock = clock
        self.emit = emit
        # Frames go out as events only if a listener takes them (none does with -q)
        self._frames_sent = taken(emit, FrameSent)
        self._frames_received = taken(emit, FrameReceived)
        self.stop = stop
        self.inbox = Inbox(stop)
        self.inbox.on_full = self._inbox_full  # a flood no step takes: stop it at the source
        # The last events, as `TranscriptEntry` fields after the connection's name (made into
        # entries only when a failure shows them, by `transcript`: two a pair otherwise).
        self._recent: deque[tuple[float, str, str | bytes, int | None]] = deque(
            maxlen=TRANSCRIPT_LENGTH
        )
        self.last_send_at: float | None = None
        self.last_sent: str | bytes | None = None  # for `correlate`
        # Message and wire bytes, counted on compressed connections only (elsewhere they are
        # equal); each pair has one writer: steps send one at a time, this thread receives.
        self._compressed = False
        self._sent = self._sent_wire = self._received = self._received_wire = 0
        self.opened: OpenResult | None = None
        self.replies: list[AutoReply] = []  # set before connect: answered on this thread
        self.expected_refusal: int | None = None  # a refusal with this status is no error
        self.during = during  # the step running, for `AbnormalEnd`
        self.abnormal: AbnormalEnd | None = None  # how it ended, when not by a handshake
        self.abnormal_expected = False  # an expect_close step took that end as expected
        self._closing = False  # wsrun started the closing handshake (or failed the connection)
        self._aborted = False  # wsrun dropped the connection itself
        # The connection's protocol (set before connect; None: raw frames), its handshake's
        # end (set by this thread) and its heartbeat timer's stop: made by `connect` for a
        # protocol connection only (a scenario may hold thousands of raw ones).
        self.protocol: Protocol | None = None
        self._handshake = self._heartbeat_stop = _NO_EVENT
        self._handshake_failure: ProtocolFailure | None = None
        self.calls = 0  # the last call id given on this connection
        self.ws: WebSocket = create_websocket()
        self.ws.on("open", self._on_open)
        self.ws.on("message", self._on_message)
        self.ws.on("close", self._on_close)
        self.ws.on("error", self._on_error)

    # -- listeners: the connection's thread --------------------------------------------------

    def transcript(self) -> tuple[TranscriptEntry, ...]:
        """The connection's last events (`TRANSCRIPT_LENGTH` of them), oldest first."""
        name = self.name
        return tuple(
            TranscriptEntry(at, name, event, data, wire) for at, event, data, wire in self._recent
        )

    def _note(self, event: str, data: str | bytes, at: float, wire: int | None = None) -> None:
        self._recent.append((at, event, data, wire))

    def _on_open(self, _err: object, value: OpenResult) -> None:
        at = self.clock.now()
        self.opened = value
        self._compressed = bool(value.extensions)
        self._note("open", f"{self.ws.url} ({value.status})", at)
        url = self.ws.url or ""
        self.emit(
            ConnectionOpened(
                at=at,
                scenario=self.scenario,
                conn=self.name,
                url=url,
                status=value.status,
                protocol=value.protocol,
            )
        )

    def _on_message(self, _err: object, data: str | bytes) -> None:
        at = _monotonic() - self.clock.start  # `clock.now()` and `_note`, inline: every message
        wire = self.ws.wire_sizes[1]
        self._recent.append((at, "received", data, wire))
        if self._compressed:
            self._received += _size(data)
            self._received_wire += wire
        if self.protocol is not None:
            self._on_protocol_frame(self.protocol, data, at, wire)
            return
        if self.replies and self._auto_reply(data, at):
            return
        if not self._frames_received:
            self.inbox.put(Message(at, data))  # may run the scenario's next steps, on this thread
            return
        try:
            self.emit(
                FrameReceived(
                    at=at, scenario=self.scenario, conn=self.name, data=data, wire_size=wire
                )
            )
        finally:
            self.inbox.put(Message(at, data))  # may run the scenario's next steps, on this thread

    def _on_protocol_frame(
        self, protocol: Protocol, frame: str | bytes, at: float, wire: int | None
    ) -> None:
        """Decode a frame with the connection's protocol: answer what it answers, feed the
        handshake, and put each envelope in the inbox as JSON text (the frame kept beside)."""
        from runner.protocols.base import MalformedFrame, ProtocolFailure

        try:
            items = protocol.decode(frame)
        except MalformedFrame as error:
            self._malformed(frame, error.message, at, wire)
            return
        except ProtocolFailure as failure:  # a refusal the protocol knows (SUBACK 0x80...)
            self._malformed(frame, failure.message, at, wire, refused=True)
            return
        except Exception as error:  # a codec's bug must not kill the connection's thread
            self._malformed(frame, f"the {protocol.name} codec failed: {error!r}", at, wire)
            return
        beat = bool(items) and all(item.heartbeat for item in items)
        try:
            self.emit(
                FrameReceived(
                    at=at,
                    scenario=self.scenario,
                    conn=self.name,
                    data=frame,
                    wire_size=wire,
                    envelopes=[item.envelope for item in items],
                    heartbeat=beat,
                )
            )
        finally:
            for item in items:
                self._take(protocol, item, frame, at)

    def _take(self, protocol: Protocol, item: Incoming, frame: str | bytes, at: float) -> None:
        for answer in item.answers:
            self._send_frame(answer, heartbeat=item.heartbeat)
        if item.handshake:
            self._handshake_step(protocol, item)
            return
        if item.heartbeat:
            return
        text = envelope_text(item.envelope)
        if self.replies and self._auto_reply(text, at):
            return
        self.inbox.put(Message(at, text, frame, item.reply_to))

    def _handshake_step(self, protocol: Protocol, item: Incoming) -> None:
        from runner.protocols.base import ProtocolFailure

        if self._handshake.is_set():
            return
        try:
            done = protocol.handshake_done(item)
        except ProtocolFailure as failure:
            self._handshake_failure = failure
            done = True
        if done:
            self._handshake.set()

    def _malformed(
        self, frame: str | bytes, why: str, at: float, wire: int | None, *, refused: bool = False
    ) -> None:
        """A frame the protocol cannot read (or, `refused`, a refusal it read: an MQTT SUBACK
        0x80, a STOMP ERROR): the waiting step (or the next) fails with why."""
        assert self.protocol is not None
        name = self.protocol.name
        detail = f"{why}; the frame: {_cut(frame)}"
        shown = f"the {name} server refused: {detail}" if refused else f"malformed {name} frame: "
        if not refused:
            shown += detail
        self._note("error", shown, at)
        try:
            self.emit(
                FrameReceived(
                    at=at,
                    scenario=self.scenario,
                    conn=self.name,
                    data=frame,
                    wire_size=wire,
                    envelopes=[],
                )
            )
            self.emit(
                ErrorOccurred(
                    at=at,
                    scenario=self.scenario,
                    conn=self.name,
                    code=ErrorCode.OTHER,
                    message=f"the {name} server refused: {why}"
                    if refused
                    else f"malformed {name} frame: {why}",
                )
            )
        finally:
            self.inbox.set_malformed(f"{name}: {detail}", "refused" if refused else "malformed")
            if not self._handshake.is_set() and self.protocol.has_handshake:
                what = "a refusal" if refused else "malformed frame"
                self._handshake_failure = _failure(f"{what} during the handshake: {detail}")
                self._handshake.set()

    def _send_frame(
        self, frame: Frame, *, heartbeat: bool = False, envelope: dict[str, Any] | None = None
    ) -> None:
        """Send a frame the protocol makes (an answer, a heartbeat, its opening or closing):
        logged as sent, written at once (a closing connection fails the Future: ignored)."""
        at = self.clock.now()
        self._note("sent", frame, at)
        try:
            self.emit(
                FrameSent(
                    at=at,
                    scenario=self.scenario,
                    conn=self.name,
                    data=frame,
                    envelopes=[envelope] if envelope is not None else [],
                    heartbeat=heartbeat,
                )
            )
        finally:
            self.ws.send(frame)

    def _auto_reply(self, data: str | bytes, at: float) -> bool:
        """Answer `data` with the first rule that matches it; whether one did.

        A rule that matches but cannot build its answer reports an error, and the message goes
        on to the inbox (where the steps, or the unexpected list, show it).
        """
        for index, rule in enumerate(self.replies):
            try:
                answer = rule.answer(data)
            except WsrunError as error:
                self._reply_failed(index, error, at)
                return False
            if answer is None:
                continue
            self._note("auto-reply", answer, at)
            try:
                event = AutoReplied(
                    at=at,
                    scenario=self.scenario,
                    conn=self.name,
                    received=data,
                    sent=answer,
                    rule=index,
                )
                self.emit(event)
            finally:
                for frame in self._encoded_answer(answer):
                    self.ws.send(frame)  # a closing connection fails the Future: nothing to do
            return True
        return False

    def _encoded_answer(self, answer: str | bytes) -> list[str | bytes]:
        """An auto-reply's answer as sent: on a protocol connection, a JSON object is an
        envelope, encoded by the protocol; anything else goes as written."""
        if self.protocol is None or not isinstance(answer, str):
            return [answer]
        try:
            envelope = json.loads(answer)
        except ValueError:
            return [answer]
        if not isinstance(envelope, dict):
            return [answer]
        try:
            return list(self.protocol.encode(envelope))
        except ValueError:
            return [answer]

    def _reply_failed(self, index: int, error: WsrunError, at: float) -> None:
        message = f"auto-reply {index} failed: {getattr(error, 'message', str(error))}"
        self._note("error", message, at)
        self.emit(
            ErrorOccurred(
                at=at, scenario=self.scenario, conn=self.name, code=ErrorCode.OTHER, message=message
            )
        )

    def _on_close(self, _err: object, value: CloseResult) -> None:
        at = self.clock.now()
        self._heartbeat_stop.set()
        self._handshake.set()  # a connect waiting for the handshake sees the close
        by = self._closed_by(value)
        if not value.was_clean and not self._aborted and self.abnormal is None:
            self.abnormal = AbnormalEnd(at, value.code, value.reason, self.during())
        closer = f"by {by}: " if by else "lost: "
        self._note("close", f"{closer}{value.code} {value.reason}".rstrip(), at)
        try:
            self.emit(
                ConnectionClosed(
                    at=at,
                    scenario=self.scenario,
                    conn=self.name,
                    code=value.code,
                    reason=value.reason,
                    was_clean=value.was_clean,
                    traffic=self.traffic(),
                    by=by,
                )
            )
        finally:
            self.inbox.set_closed(value)  # may end a waiting step, on this thread

    def _closed_by(self, value: CloseResult) -> str:
        """Who ended the connection: ``client`` (wsrun), ``server``, or "" (the link was lost
        and neither finished a closing handshake)."""
        if self._aborted or (self.abnormal is not None and self.abnormal.violation):
            return "client"
        if not value.was_clean:
            return ""
        return "client" if self._closing else "server"

    def _on_error(self, err: BusinessError) -> None:
        at = self.clock.now()
        if self.opened is None and err.data == str(self.expected_refusal):
            self._refused_as_expected(err, at)
            return
        if isinstance(err, ProtocolError):
            self._violated(err, at)
            return
        if self._aborted and self.opened is not None:  # wsrun dropped it: no server error
            self.inbox.set_error(err)
            return
        self._note("error", f"{err.code} {err.message}", at)
        try:
            self._emit_error(err, at, err.message)
        finally:
            self.inbox.set_error(err)  # wakes the scenario's thread

    def _emit_error(self, err: BusinessError, at: float, message: str) -> None:
        self.emit(
            ErrorOccurred(
                at=at,
                scenario=self.scenario,
                conn=self.name,
                code=err.code,
                message=message,
                data=err.data,
            )
        )

    def _violated(self, err: ProtocolError, at: float) -> None:
        """The server broke RFC 6455: the client core fails the connection (its closing
        handshake follows); the waiting step fails now, with the cause."""
        self._closing = True
        self.abnormal = AbnormalEnd(at, err.close_code, err.reason, self.during(), violation=True)
        self._note("error", f"{err.code} {err.message} (failing it with {err.close_code})", at)
        try:
            self._emit_error(
                err, at, f"{err.message} (wsrun fails the connection with {err.close_code})"
            )
        finally:
            self.inbox.set_error(err)
            self.inbox.set_closed(CloseResult(err.close_code, err.reason, was_clean=False))

    def _refused_as_expected(self, err: BusinessError, at: float) -> None:
        self._note("refused", f"HTTP {err.data} (expected)", at)
        try:
            status = int(self.expected_refusal or 0)
            url = self.ws.url or ""
            self.emit(
                HandshakeRefused(
                    at=at, scenario=self.scenario, conn=self.name, url=url, status=status
                )
            )
        finally:
            self.inbox.set_error(err)

    # -- actions: the scenario's thread ------------------------------------------------------

    def connect(self, url: str, options: ConnectOptions, deadline: Deadline) -> None:
        """Open the connection; wait until it is open or the handshake failed.

        Raises:
            BusinessError: the handshake failed (code 200, data = the HTTP status), or the
                arguments were refused.
            TimeoutError: `deadline` passed first (the connection is dropped).
            Interrupted: the run was stopped.
        """
        if self.protocol is not None:  # before the listeners can see a frame
            self._handshake, self._heartbeat_stop = threading.Event(), threading.Event()
        future = self.ws.connect(url, options)
        assert future is not None
        while True:
            if self.stop.is_set():
                self.abort()
                raise Interrupted
            try:
                future.result(timeout=min(POLL, deadline.remaining()))
                break
            except TimeoutError:
                if deadline.expired():
                    self.abort()
                    raise
        if self.protocol is not None:
            self._start_protocol(self.protocol, deadline)

    def _start_protocol(self, protocol: Protocol, deadline: Deadline) -> None:
        """The protocol's handshake, inside `connect`: its opening frames, then (when it has a
        handshake) its answer until `deadline`; then its heartbeat timer.

        Raises:
            ProtocolFailure: the server refused the handshake, closed, or did not answer in
                time (the connection is closed then).
            Interrupted: the run was stopped.
        """
        for frame in protocol.opening():
            self._send_frame(frame)
        if protocol.has_handshake:
            while not self._handshake.wait(min(POLL, max(0.0, deadline.remaining()))):
                if self.stop.is_set():
                    self.abort()
                    raise Interrupted
                if deadline.expired():
                    self.shut(0.5)
                    raise _failure(
                        f"no {protocol.name} handshake answer in time (the server sent no "
                        "acknowledgement of the protocol's opening)"
                    )
            failure = self._handshake_failure
            if failure is None and self.inbox.closed is not None:
                closed = self.inbox.closed
                failure = _failure(
                    f"the connection closed during the {protocol.name} handshake "
                    f"({closed.code} {closed.reason})".replace(" )", ")")
                )
            if failure is not None:
                self.shut(0.5)
                raise failure
        interval = protocol.heartbeat_interval()
        if interval is not None and interval > 0:
            threading.Thread(
                target=self._beat, args=(protocol, interval), name="wsrun-heartbeat", daemon=True
            ).start()

    def _beat(self, protocol: Protocol, interval: float) -> None:
        """The heartbeat timer: the protocol's heartbeat frames every `interval` seconds until
        the connection closes."""
        while not self._heartbeat_stop.wait(interval):
            if self.stop.is_set() or self.ws.ready_state.value != "OPEN":
                return
            for frame in protocol.heartbeat():
                self._send_frame(frame, heartbeat=True)

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Send an envelope on a protocol connection (``send: {json: ...}``), encoded.

        Raises:
            ValueError: the protocol cannot send it (its message says why).
            BusinessError: the connection cannot send.
        """
        assert self.protocol is not None
        frames = self.protocol.encode(envelope)
        for frame in frames:
            self.send(frame, envelope)

    def send_outgoing(self, outgoing: Outgoing) -> None:
        """Send what a step writes (`send`, a `poll` round): on a protocol connection, `json`
        is an envelope, encoded; `text` and `binary` go as written.

        Raises:
            ValueError: the protocol cannot send the envelope (its message says why).
            BusinessError: the connection cannot send.
        """
        if self.protocol is None or "json_" not in outgoing.model_fields_set:
            self.send(outgoing.payload())
            return
        envelope = outgoing.json_
        if not isinstance(envelope, dict):
            raise ValueError(f"expected an envelope (a JSON object), found {envelope!r}")
        self.send_envelope(envelope)

    def next_call_id(self) -> int:
        """A fresh id for a `call` on this connection (1, 2, ...); the scenario's thread."""
        self.calls += 1
        return self.calls

    def send(self, data: str | bytes, envelope: dict[str, Any] | None = None) -> None:
        """Send one message; raise `BusinessError` when the connection cannot send.

        The frame is built first (compressed, with permessage-deflate: `ws.prepare`), so that
        the send is timed and logged with its wire size before the frame is written: an echo
        can arrive (and be logged by the connection's thread) before `ws.send` returns. The
        prepared message is sent even if emitting raised: with compression, every message
        prepared must be written, in order (`WebSocket.prepare`); steps send one at a time.
        """
        if self.ws.ready_state is not ReadyState.OPEN:
            raise self._not_open()
        prepared = self.ws.prepare(data)
        at = _monotonic() - self.clock.start  # `clock.now()` and `_note`, inline: every send
        self.last_send_at, self.last_sent = at, data
        wire = prepared.wire_size
        self._recent.append((at, "sent", data, wire))
        if not self._frames_sent:
            self.ws.send_now(prepared)
        else:
            self._emit_sent(prepared, data, envelope, at)
        if self._compressed:
            self._sent += prepared.size
            self._sent_wire += wire

    def _emit_sent(
        self, prepared: PreparedMessage, data: str | bytes, envelope: Any, at: float
    ) -> None:
        """Emit the `FrameSent` of `prepared`, then write it (written even if emitting raised)."""
        wire = prepared.wire_size
        try:
            self.emit(
                FrameSent(
                    at=at,
                    scenario=self.scenario,
                    conn=self.name,
                    data=data,
                    wire_size=wire,
                    envelopes=[envelope] if envelope is not None else None,
                )
            )
        except BaseException:
            with contextlib.suppress(BusinessError):  # the emit's error is the one raised
                self.ws.send_now(prepared)
            raise
        self.ws.send_now(prepared)  # no Future a message: written here, or BusinessError

    def traffic(self) -> Traffic | None:
        """What went through a compressed connection (None: not compressed, nothing counted)."""
        if not self._compressed:
            return None
        return Traffic(self._sent, self._sent_wire, self._received, self._received_wire)

    def close(self, code: int, reason: str, deadline: Deadline) -> CloseResult | None:
        """Start the closing handshake (RFC 6455 7.1.2) and wait for its end until `deadline`.

        Raises:
            BusinessError: the code or reason was refused (401), or the connection is not open.
            Interrupted: the run was stopped.
        """
        if self.inbox.full is not None:
            raise self._not_open()
        said_goodbye = self._protocol_closing()
        future = self.ws.close({"code": code, "reason": reason})
        assert future is not None
        if said_goodbye and future.exception(timeout=0) is not None and not self.is_open_only:
            # The protocol's goodbye (MQTT DISCONNECT) made the server close first (MQTT
            # 3.1.1 3.14.4 asks it to): that is the end the step asked for; wait for it.
            return self.inbox.wait_closed(deadline)
        future.result(timeout=0)
        self._closing = True
        return self.inbox.wait_closed(deadline)

    @property
    def is_open_only(self) -> bool:
        """Whether the connection is open (not opening, closing or closed)."""
        return self.ws.ready_state.value == "OPEN"

    def _protocol_closing(self) -> bool:
        """Send the protocol's closing frames (MQTT DISCONNECT) while the connection is open;
        whether it sent any."""
        self._heartbeat_stop.set()
        protocol = self.protocol
        if protocol is None or self.ws.ready_state.value != "OPEN":
            return False
        try:
            frames = protocol.closing()
        except Exception:  # a codec's bug must not keep the connection open
            frames = []
        for frame in frames:
            self._send_frame(frame)
        return bool(frames)

    def _not_open(self) -> BusinessError:
        """Why a step cannot use the connection: wsrun dropped it for a full inbox, or its state."""
        if self.inbox.full is not None:
            return BusinessError(
                ErrorCode.OTHER, f"inbox full: {self.inbox.full}; wsrun dropped the connection"
            )
        return BusinessError(ErrorCode.OTHER, f"not open ({self.ws.ready_state.value})")

    def _inbox_full(self) -> None:
        """The inbox overflowed (`Inbox.full` says why; its steps fail): drop the connection,
        so that the server's flood stops reaching the reporters too."""
        self.abort()

    def abort(self) -> None:
        """Drop the connection without a closing handshake (wsrun's doing, not the server's)."""
        self._aborted = True
        self.ws.abort()

    @property
    def is_open(self) -> bool:
        """Whether the connection is open or opening (it needs closing at the end)."""
        return self.ws.ready_state.value in ("CONNECTING", "OPEN", "CLOSING")

    def shut(self, wait: float) -> bool:
        """At the end of a scenario: close politely, then drop it if the peer does not answer
        within `wait` seconds; False when it had to be dropped.

        A connection failed after a protocol violation is dropped at once: RFC 6455 7.1.7 lets
        the client stop reading, and its closing handshake may wait for a peer that never ends.
        """
        if not self.is_open:
            return True
        if self.abnormal is not None and self.abnormal.violation:
            self.abort()
            self.ws.wait_closed(_ABORT_GRACE)
            return True
        self._protocol_closing()
        if self.ws.close({"code": 1000, "reason": ""}).exception() is None:
            self._closing = True  # else it was closing already
        if self.ws.wait_closed(wait):
            return True
        self.abort()
        self.ws.wait_closed(max(wait, _ABORT_GRACE))
        return False


#: The events of a connection without a protocol: set, so that nothing ever waits on them.
_NO_EVENT = threading.Event()
_NO_EVENT.set()

#: How long a dropped connection may take to report its end (its thread wakes at once).
_ABORT_GRACE = 0.5


def _size(data: str | bytes) -> int:
    return len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)


def _cut(frame: str | bytes) -> str:
    """A frame for a failure: text cut to FRAME_SHOWN characters, binary as hex."""
    if isinstance(frame, bytes):
        shown = frame[:FRAME_SHOWN].hex(" ")
        more = f"… ({len(frame)} bytes)" if len(frame) > FRAME_SHOWN else ""
        return f"{shown}{more} (binary)"
    if len(frame) > FRAME_SHOWN:
        return f"{frame[:FRAME_SHOWN]!r}… ({len(frame)} characters)"
    return repr(frame)


def _failure(message: str) -> ProtocolFailure:
    from runner.protocols.base import ProtocolFailure

    return ProtocolFailure(message)
