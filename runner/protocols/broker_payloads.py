"""What the `mqtt` and `stomp` protocols share: payloads and bodies in JSON, request errors.

A payload (MQTT) or body (STOMP) received is its text when it is UTF-8, else
``{"base64": "..."}``; one to send may be text, ``{"base64": "..."}``, or any other JSON value,
sent as compact JSON text.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["bytes_in", "bytes_out", "validate"]

M = TypeVar("M", bound=BaseModel)


def bytes_out(data: bytes) -> Any:
    """Received bytes as JSON: their text when they are UTF-8, else ``{"base64": ...}``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def bytes_in(value: Any) -> bytes:
    """Bytes to send: text as UTF-8, ``{"base64": ...}`` decoded, other JSON as JSON text."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"}:
        try:
            return base64.b64decode(str(value["base64"]), validate=True)
        except binascii.Error:
            raise ValueError("base64 is not valid base64") from None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def validate(model: type[M], value: Any, what: str, context: Any) -> M:
    """`value` validated by `model`; a ValueError naming the first problem otherwise."""
    try:
        return model.model_validate(value, context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"not {what}: {where + ': ' if where else ''}{message}") from None
