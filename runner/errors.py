"""The exceptions of wsrun, in one tree.

::

    WsrunError                     base of everything wsrun raises on purpose
    ├── BusinessError              the client core's error, shaped like OpenHarmony's BusinessError
    ├── ScenarioError              a scenario file cannot be used (it never reaches the network)
    ├── ScenarioErrors             every ScenarioError of one or more files, reported at once
    ├── ExecutionError             a step failed while a scenario ran
    │   └── ExpectationFailed      an expect/expect_close did not match before its deadline
    └── ServiceError               a suite service did not start or died

`ScenarioErrors` holds ScenarioErrors but is not one. The executor's own failures
(`runner.executor.failures`) extend `ExecutionError` and `ExpectationFailed`.

Each exception keeps structured fields and builds its message from them, so that reporters can
render the fields and tests can assert on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "MAX_REPORTED_ERRORS",
    "BusinessError",
    "ErrorCode",
    "ExecutionError",
    "ExpectationFailed",
    "Location",
    "ScenarioError",
    "ScenarioErrors",
    "ServiceError",
    "WsrunError",
]


class WsrunError(Exception):
    """Base of every exception wsrun raises on purpose."""


class ErrorCode:
    """Error codes of `@ohos.net.webSocket` (see the README for when each is used)."""

    PARAMETER = 401
    COMMON = 200  # every asynchronous failure on the `error` event
    URL = 2302001
    CERT_FILE = 2302002
    ALREADY_CONNECTED = 2302003
    OTHER = 2302999


_DEFAULT_MESSAGES = {
    ErrorCode.PARAMETER: "Parameter error",
    ErrorCode.COMMON: "Websocket connect failed",
    ErrorCode.URL: "Websocket url error",
    ErrorCode.CERT_FILE: "Websocket certificate file does not exist",
    ErrorCode.ALREADY_CONNECTED: "Websocket connection already exist",
    ErrorCode.OTHER: "Websocket Unknown Other Error",
}


class BusinessError(WsrunError):
    """An error of the client core: `code` (an OpenHarmony code), `message`, and `data`.

    `data` is the HTTP status of a failed handshake as a string (``"0"`` when there was none) on
    the `error` event, and ``None`` elsewhere.
    """

    def __init__(self, code: int, message: str | None = None, data: str | None = None) -> None:
        self.code = code
        self.message = message or _DEFAULT_MESSAGES.get(code, "Websocket error")
        self.data = data
        super().__init__(code, self.message, data)

    def __str__(self) -> str:
        suffix = f" (data={self.data!r})" if self.data is not None else ""
        return f"{self.code}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return f"BusinessError(code={self.code}, message={self.message!r}, data={self.data!r})"


@dataclass(frozen=True, slots=True)  # one a step: 88 bytes with its line, not 128
class Location:
    """A place in a scenario file; lines and columns count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ScenarioError(WsrunError):
    """A scenario file cannot be used: bad YAML, a schema error, a template error, a bad import."""

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        *,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
        snippet: str | None = None,
    ) -> None:
        self.message = message
        self.location = location
        self.expected = expected
        self.found = found
        self.hint = hint
        self.snippet = snippet
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        parts = [f"{where}{self.message}"]
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            parts.append(f"found {self.found}")
        text = "; ".join(parts)
        if self.hint:
            text += f" ({self.hint})"
        return text


#: The most errors reported at once: beyond, the first ones and a count of the others (printing
#: 16,000 errors took longer than finding them).
MAX_REPORTED_ERRORS = 1000


@dataclass
class ScenarioErrors(WsrunError):
    """Every error found in one or more files, so that all are reported at once (the first
    `MAX_REPORTED_ERRORS` of them, then one that counts the others)."""

    errors: list[ScenarioError] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.errors) > MAX_REPORTED_ERRORS:
            more = len(self.errors) - MAX_REPORTED_ERRORS
            counted = ScenarioError(
                f"and {more:,} more errors, not shown (wsrun reports the first "
                f"{MAX_REPORTED_ERRORS:,})"
            )
            self.errors = [*self.errors[:MAX_REPORTED_ERRORS], counted]

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class ExecutionError(WsrunError):
    """A step failed while a scenario ran; `location` is the step's place in its file."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message}"


class ExpectationFailed(ExecutionError):
    """An expect step saw no matching message (or close) before its deadline."""


class ServiceError(WsrunError):
    """A suite service failed to start, or stopped while the run needed it."""

    def __init__(self, name: str, message: str, output: str = "") -> None:
        self.name = name
        self.message = message
        self.output = output
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"service {self.name!r}: {self.message}"
