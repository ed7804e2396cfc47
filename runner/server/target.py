"""The parsed opening handshake of a request: path parameters, query parameters and headers.

Endpoints validate their parameters while the handshake is still HTTP, so a bad parameter is a
plain HTTP error response (400) and never a half-open WebSocket connection.
"""

from __future__ import annotations

import http
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from websockets.datastructures import Headers

__all__ = ["HttpError", "Target"]


class HttpError(Exception):
    """Refuse the opening handshake with an HTTP status, a plain text body and extra headers."""

    def __init__(
        self, status: http.HTTPStatus, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.message = message
        self.headers = headers or {}
        super().__init__(f"{int(status)} {message}")


@dataclass(frozen=True)
class Target:
    """What a handshake asked for: the route's `params`, the `query` (last value wins), headers."""

    path: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)

    @classmethod
    def parse(cls, path: str, query: str, headers: Headers, params: dict[str, str]) -> Target:
        """Build a target from the parts of a request."""
        values = {name: found[-1] for name, found in parse_qs(query).items()}
        return cls(path=path, params=params, query=values, headers=headers)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """The integer query parameter `name`, between `low` and `high` inclusive."""
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise HttpError(
                http.HTTPStatus.BAD_REQUEST,
                f"query parameter {name} must be an integer from {low} to {high}, found {raw!r}",
            )
        return value

    def seconds(self, name: str, default_ms: int, low_ms: int, high_ms: int) -> float:
        """The query parameter `name`, given in milliseconds, as seconds."""
        return self.integer(name, default_ms, low_ms, high_ms) / 1000

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        """The query parameter `name`, one of `allowed`."""
        value = self.query.get(name, default)
        if value not in allowed:
            raise HttpError(
                http.HTTPStatus.BAD_REQUEST,
                f"query parameter {name} must be one of {', '.join(allowed)}, found {value!r}",
            )
        return value
