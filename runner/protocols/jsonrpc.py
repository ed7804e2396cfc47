"""JSON-RPC 2.0 (https://www.jsonrpc.org/specification) over WebSocket, one message a frame.

No library is used: the protocol is JSON with four keys, and every JSON-RPC package on PyPI
couples its codec to a transport or a dispatcher. `connect` does nothing more than open the
WebSocket. The envelope of a frame is the message as it is (a batch gives one per element);
a response (``result`` or ``error``, with an ``id``) answers the `call` that sent that id:

    - call: {method: sum, params: [1, 2], expect: {json: {result: 3}}}

sends ``{"jsonrpc": "2.0", "method": "sum", "params": [1, 2], "id": 1}`` and waits for the
response with ``"id": 1``. Notifications and requests from the server go to the inbox.
``send: {json: {method: log, params: [hi]}}`` sends a notification (``"jsonrpc": "2.0"`` added).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field

from runner.protocols.base import Envelope, Frame, Incoming, MalformedFrame, Protocol
from runner.scenario.fields import Model, TemplatedBool

__all__ = ["JsonRpc", "JsonRpcCall", "JsonRpcOptions"]


class JsonRpcOptions(Model):
    """The options of json-rpc (``protocol_options:`` of connect)."""

    strict: TemplatedBool = Field(
        True,
        description='a message without "jsonrpc": "2.0" is a malformed frame (false: taken as '
        "it is)",
    )


class JsonRpcCall(Model):
    """A json-rpc call: the method and its parameters (the id is wsrun's)."""

    method: str = Field(description="the method's name")
    params: list[Any] | dict[str, Any] | None = Field(
        None, description="its parameters: a list (by position) or a mapping (by name)"
    )


class JsonRpc(Protocol):
    """JSON-RPC 2.0: requests with ids, their responses, and notifications."""

    name: ClassVar[str] = "json-rpc"
    options_model: ClassVar[type[Model]] = JsonRpcOptions
    request_model: ClassVar[type[Model] | None] = JsonRpcCall

    def __init__(self, options: Model) -> None:
        super().__init__(options)
        assert isinstance(options, JsonRpcOptions)
        self.strict = options.strict is not False

    def decode(self, frame: Frame) -> list[Incoming]:
        if isinstance(frame, bytes):
            raise MalformedFrame("a JSON-RPC message is text, this frame is binary", frame)
        try:
            message = json.loads(frame)
        except ValueError as error:
            raise MalformedFrame(f"not JSON ({error})", frame) from None
        if isinstance(message, list):
            if not message:
                raise MalformedFrame("an empty batch", frame)
            return [self._item(element, frame) for element in message]
        return [self._item(message, frame)]

    def _item(self, message: Any, frame: Frame) -> Incoming:
        if not isinstance(message, dict):
            raise MalformedFrame(f"a JSON-RPC message is an object, found {message!r}", frame)
        strict = self.strict
        if strict and message.get("jsonrpc") != "2.0":
            raise MalformedFrame('no "jsonrpc": "2.0" in the message', frame)
        is_response = "method" not in message and ("result" in message or "error" in message)
        if is_response and "id" in message and message["id"] is not None:
            return Incoming(message, reply_to=_key(message["id"]))
        if strict and not is_response and not isinstance(message.get("method"), str):
            raise MalformedFrame("neither a request (method) nor a response (result, error)", frame)
        return Incoming(message)

    def encode(self, envelope: Envelope) -> list[Frame]:
        return [json.dumps({"jsonrpc": "2.0", **envelope}, ensure_ascii=False)]

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": request["method"]}
        if request.get("params") is not None:
            message["params"] = request["params"]
        message["id"] = call_id
        return [json.dumps(message, ensure_ascii=False)], _key(call_id)


def _key(call_id: Any) -> str:
    """The reply key of an id: its JSON (1 and "1" are different ids)."""
    return json.dumps(call_id)
