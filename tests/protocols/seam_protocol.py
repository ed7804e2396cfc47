"""A small line protocol for the seam's tests (tests/protocols/test_protocol_seam.py), with every
part a protocol can have, and the server that speaks it (websockets, in a thread).

Client → server: ``HELLO <user>`` (opening), ``PING`` (its heartbeat), ``CALL <id> <text>``,
``SAY <text>`` (an envelope ``{"say": text}`` sent), ``BEAT-ACK``, ``BYE`` (closing).
Server → client: ``WELCOME`` or ``DENIED <why>`` (the handshake), ``BEAT`` (answered with
``BEAT-ACK``: a heartbeat), ``REPLY <id> <TEXT>`` (a call's reply), ``MSG <text>`` (an envelope
``{"msg": text}``), ``NOPE <why>`` (a refusal the protocol knows: the answer to ``CALL <id> nope``);
anything else is malformed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field
from websockets.sync.server import ServerConnection

from runner.protocols.base import (
    Envelope,
    Frame,
    Incoming,
    MalformedFrame,
    Protocol,
    ProtocolFailure,
)
from runner.scenario.fields import Model, TemplatedDuration


class SeamOptions(Model):
    """The options of the seam protocol."""

    user: str = Field(description="the user HELLO names")
    ping: TemplatedDuration | None = Field(None, description="PING every so often")


class SeamCall(Model):
    """A call: the text to upper-case."""

    text: str = Field(description="the text")


class Seam(Protocol):
    name: ClassVar[str] = "seam"
    options_model: ClassVar[type[Model]] = SeamOptions
    request_model: ClassVar[type[Model] | None] = SeamCall
    subprotocols: ClassVar[tuple[str, ...]] = ("seam.v1",)
    has_handshake: ClassVar[bool] = True

    def __init__(self, options: Model) -> None:
        super().__init__(options)
        assert isinstance(options, SeamOptions)
        self.settings = options

    def url(self, url: str) -> str:
        return url.rstrip("/") + "/seam"

    def opening(self) -> list[Frame]:
        return [f"HELLO {self.settings.user}"]

    def handshake_done(self, incoming: Incoming) -> bool:
        if incoming.envelope["hello"] != "WELCOME":
            raise ProtocolFailure(f"the server said {incoming.envelope['hello']}")
        return True

    def decode(self, frame: Frame) -> list[Incoming]:
        if not isinstance(frame, str):
            raise MalformedFrame("binary", frame)
        word, _, rest = frame.partition(" ")
        if word in ("WELCOME", "DENIED"):
            return [Incoming({"hello": frame}, handshake=True)]
        if word == "BEAT":
            return [Incoming({"beat": True}, heartbeat=True, answers=("BEAT-ACK",))]
        if word == "REPLY":
            call_id, _, text = rest.partition(" ")
            return [Incoming({"reply": text}, reply_to=call_id)]
        if word == "MSG":
            return [Incoming({"msg": rest})]
        if word == "NOPE":
            raise ProtocolFailure(f"the server said no: {rest}")
        raise MalformedFrame(f"unknown word {word!r}", frame)

    def encode(self, envelope: Envelope) -> list[Frame]:
        if set(envelope) != {"say"}:
            raise ValueError(f"expected {{say: text}}, found {envelope}")
        return [f"SAY {envelope['say']}"]

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        return [f"CALL {call_id} {request['text']}"], str(call_id)

    def heartbeat_interval(self) -> float | None:
        return self.settings.ping  # type: ignore[return-value]  # rendered: a float

    def heartbeat(self) -> list[Frame]:
        return ["PING"]

    def closing(self) -> list[Frame]:
        return ["BYE"]


class SeamServer:
    """The server side: what it received, in order; how it answers HELLO."""

    def __init__(
        self, welcome: str = "WELCOME", beat: bool = False, bye_closes: bool = False
    ) -> None:
        self.welcome = welcome  # "" never answers
        self.beat = beat
        self.bye_closes = bye_closes  # close at once on BYE (as an MQTT broker on DISCONNECT)
        self.received: list[str | bytes] = []
        self.subprotocol: str | None = None
        self.closed = threading.Event()

    def handler(self) -> Callable[[ServerConnection], None]:
        def run(conn: ServerConnection) -> None:
            self.subprotocol = conn.subprotocol
            try:
                for message in conn:
                    self.received.append(message)
                    self._answer(conn, str(message))
            finally:
                self.closed.set()

        return run

    def _answer(self, conn: ServerConnection, message: str) -> None:
        word, _, rest = message.partition(" ")
        if word == "HELLO" and self.welcome:
            conn.send(self.welcome)
            if self.beat:
                conn.send("BEAT")
        elif word == "CALL":
            call_id, _, text = rest.partition(" ")
            conn.send(f"MSG working on {call_id}")
            if text == "nope":
                conn.send(f"NOPE no {call_id} for you")
            elif text != "never":
                conn.send(f"REPLY {call_id} {text.upper()}")
        elif word == "BYE" and self.bye_closes:
            conn.close(1000, "bye")
        elif word == "SAY":
            conn.send(f"MSG {rest}" if rest != "garbage" else "???")
