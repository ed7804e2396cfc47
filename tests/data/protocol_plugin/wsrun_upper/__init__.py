"""An example protocol plugin for wsrun: each frame is ``ID:TEXT`` (or just TEXT).

- ``send: {json: {text: hi}}`` sends ``hi``, and ``shout: true`` sends ``HI``;
- ``call: {text: hi}`` sends ``7:hi`` (7: a fresh id) and waits for a frame ``7:...``;
- each frame received is the envelope ``{"id": 7, "text": "..."}`` (``"id"`` only when it has one);
- a frame ``ping`` is answered ``pong``; both are heartbeats, kept from the steps.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runner.protocols.base import Envelope, Frame, Incoming, MalformedFrame, Protocol
from runner.scenario.fields import Model, TemplatedBool


class UpperOptions(Model):
    """The options of `upper` (``protocol_options:`` of connect)."""

    shout: TemplatedBool = Field(False, description="send every text in capitals")


class UpperCall(Model):
    """A call: the text to send with a fresh id."""

    text: str = Field(description="the text")


class Upper(Protocol):
    name: ClassVar[str] = "upper"
    options_model: ClassVar[type[Model]] = UpperOptions
    request_model: ClassVar[type[Model] | None] = UpperCall

    def __init__(self, options: Model) -> None:
        super().__init__(options)
        assert isinstance(options, UpperOptions)
        self.shout = options.shout is True

    def _text(self, text: str) -> str:
        return text.upper() if self.shout else text

    def decode(self, frame: Frame) -> list[Incoming]:
        if isinstance(frame, bytes):
            raise MalformedFrame("upper is a text protocol", frame)
        if frame == "ping":
            return [Incoming({"ping": True}, heartbeat=True, answers=("pong",))]
        if frame == "pong":
            return [Incoming({"pong": True}, heartbeat=True)]
        head, colon, text = frame.partition(":")
        if colon and head.isdigit():
            return [Incoming({"id": int(head), "text": text}, reply_to=head)]
        return [Incoming({"text": frame})]

    def encode(self, envelope: Envelope) -> list[Frame]:
        if not isinstance(envelope.get("text"), str):
            raise ValueError(f"expected {{text: ...}}, found {envelope}")
        return [self._text(envelope["text"])]

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        return [f"{call_id}:{self._text(request['text'])}"], str(call_id)
