"""Secrets out of everything wsrun writes: one `Redactor` per run, applied where text leaves.

A run's secrets are the values of ``--secret NAME=VALUE`` and every value a ``${env.NAME}``
read from the environment (added as the templates read them, at load or at run time). The CLI
builds one `Redactor` and applies it at three places, each a way out of the process:

- the event stream, before any reporter sees an event (`Redactor.event`): console, JSON and
  JUnit render only redacted events, so a secret is masked before a preview cuts it, a diff
  splits it or a format escapes it; payloads (text and binary), failure details, transcripts,
  URLs and the services' output alike;
- the console's output stream (`Redactor.stream`), for what is printed outside events (load
  errors, usage errors, tracebacks);
- the serialized report files (`Redactor.text` on the JSON and XML text), which also looks for
  a secret's JSON- and XML-escaped forms.

Each secret is written ``***``; so is the password of any URL with credentials
(``wss://user:***@host/``). A secret also appears percent-encoded in URLs and escaped in JSON,
XML and Python reprs: those forms are masked too. Values shorter than `MIN_SECRET_LENGTH` are
not masked (they would mask every ``1`` of the output); ``--secret`` refuses them.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import re
import threading
import typing
import urllib.parse
from collections.abc import Callable, Iterable
from enum import Enum
from types import UnionType
from typing import IO, Any, TypeVar

__all__ = ["MASK", "MIN_SECRET_LENGTH", "RedactingStream", "Redactor"]

MASK = "***"
#: The shortest value masked: shorter ones would hide every digit or letter of the output.
MIN_SECRET_LENGTH = 3

#: The password of a URL with credentials (RFC 3986 §3.2.1 userinfo), whatever its scheme; it
#: starts with a literal, and no part can scan past the next "/", so it runs in linear time.
_USERINFO = re.compile(r"://(?P<user>[^\s/?#@:]*):[^\s/?#@]*@")

T = TypeVar("T")


def _forms(secret: str) -> set[str]:
    """`secret` as it may be written: raw, JSON- and XML-escaped, percent-encoded, repr'd."""
    import html  # here: a run without secrets (and `wsrun validate`) needs none of its tables

    forms = {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        html.escape(secret, quote=False),
        html.escape(secret, quote=True),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret, safe="!#$&'()*+,/:;=?@[]~"),
        urllib.parse.quote_plus(secret),
        repr(secret)[1:-1],
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Masks a run's secrets in text, payloads and events; secrets may be added while it runs.

    Thread-safe: scenarios on several threads add `${env.X}` values and redact concurrently.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._text: tuple[str, ...] = ()  # every form of every secret, longest first
        self._bytes: tuple[bytes, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Mask `secret` (and its escaped forms) from now on; short values are ignored."""
        if len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        with self._lock:
            self._secrets.add(secret)
            forms = set(self._text) | _forms(secret)
            self._text = tuple(sorted(forms, key=lambda form: (-len(form), form)))
            raw = {s.encode("utf-8", "surrogatepass") for s in self._secrets}
            self._bytes = tuple(sorted(raw, key=lambda form: (-len(form), form)))

    @property
    def active(self) -> bool:
        """Whether there is any secret to mask (URL passwords are masked either way)."""
        return bool(self._text)

    def text(self, text: str) -> str:
        """`text` with every secret and every URL password masked."""
        if not self._text and "@" not in text:
            return text  # the common case, kept cheap: it runs on every event's every text
        for form in self._text:
            if form in text:
                text = text.replace(form, MASK)
        if "@" in text and "://" in text:
            text = _USERINFO.sub(rf"://\g<user>:{MASK}@", text)
        return text

    def payload(self, data: bytes) -> bytes:
        """Binary `data` with every secret's UTF-8 bytes masked."""
        for form in self._bytes:
            if form in data:
                data = data.replace(form, MASK.encode())
        return data

    def value(self, value: T) -> T:
        """`value` with its text masked: strings, bytes, and dataclasses, tuples, lists and
        dicts of them (events and their parts), rebuilt only where something changed."""
        return _redact(self, value)  # type: ignore[no-any-return]

    def event(self, event: T) -> T:
        """An event as reporters may see it (the same object when nothing was masked)."""
        return self.value(event)

    def emitter(
        self, emit: Callable[[Any], None], takes: Callable[[type], bool] | None = None
    ) -> Callable[[Any], None]:
        """`emit`, given every event redacted; with `takes` (`EventBus.takes`), an event of a
        class nobody takes (frames with -q) is dropped here, neither looked at nor masked, and
        the emitter carries `takes` (see `runner.events.taken`)."""
        # The frames' classes, whose look for a URL's password is made here, in place (their
        # text fields: `conn`, `data`, `envelopes`, as `_may_hold_userinfo` finds them);
        # imported here: `wsrun validate` imports no events.
        from runner.events import FrameReceived as received
        from runner.events import FrameSent as sent
        from runner.events import StepEnded as ended

        def redacted(event: Any) -> None:
            cls = event.__class__
            if takes is not None and not takes(cls):
                return
            # With no secret yet, only a URL's password can be masked: an event whose texts
            # hold no "@" (most, and every frame of a plain run) goes on as it is, after a
            # look at its text fields in one C call; a frame's (its connection's name, its
            # data, no envelopes: the two frames of a send/expect pair), here, with no call.
            if self._text:
                event = _redact(self, event)
            elif cls is sent or cls is received:
                data = event.data
                if (
                    event.envelopes is not None
                    or "@" in event.conn
                    or (data.__class__ is not bytes and (data.__class__ is not str or "@" in data))
                ):
                    event = _redact(self, event)
            elif cls is ended:
                # A step's end (two a pair): its text fields (`_text_fields` of it: `kind`,
                # `location`, `summary`, and `conn` and `note` when set), here, with no call.
                conn, note = event.conn, event.note
                if (
                    "@" in event.location
                    or "@" in event.summary
                    or "@" in event.kind
                    or (conn is not None and (conn.__class__ is not str or "@" in conn))
                    or (note is not None and (note.__class__ is not str or "@" in note))
                ):
                    event = _redact(self, event)
            elif _may_hold_userinfo(event):
                event = _redact(self, event)
            emit(event)

        if takes is not None:  # the executor builds no event of a class nobody takes
            redacted.takes = takes  # type: ignore[attr-defined]
        return redacted

    def stream(self, file: IO[str]) -> RedactingStream:
        """`file`, with every text written to it redacted."""
        return RedactingStream(file, self)


def _redact(redactor: Redactor, value: Any) -> Any:
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, bytes):
        return redactor.payload(value)
    if isinstance(value, tuple | list):
        items = [_redact(redactor, item) for item in value]
        changed = any(a is not b for a, b in zip(items, value, strict=True))
        return type(value)(items) if changed else value
    if isinstance(value, dict):
        pairs = {_redact(redactor, k): _redact(redactor, v) for k, v in value.items()}
        return pairs if pairs != value else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact_dataclass(redactor, value)
    return value


def _redact_dataclass(redactor: Redactor, value: Any) -> Any:
    changes = None
    cheap = not redactor.active  # then only a text with an "@" can change (a URL's password)
    for name in _text_fields(value.__class__):
        item = getattr(value, name)
        if item is None or (cheap and item.__class__ is str and "@" not in item):
            continue
        redacted = redactor.text(item) if item.__class__ is str else _redact(redactor, item)
        if redacted is not item:
            changes = changes or {}
            changes[name] = redacted
    return dataclasses.replace(value, **changes) if changes else value


def _may_hold_userinfo(value: Any) -> bool:
    """Whether an event may hold a URL's password: a text field with an "@", or a field that
    holds more than a text (a failure, a transcript, a frame's envelopes), looked at by
    `_redact`. Binary payloads are masked only for secrets, so they need no look here."""
    cls = value.__class__
    read = _TEXT_READERS.get(cls)
    if read is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return True
        names = _text_fields(cls)
        read = _TEXT_READERS[cls] = operator.attrgetter(*names) if names else _no_texts
        if len(names) == 1:  # attrgetter of one name gives the value, not a tuple of it
            read = _TEXT_READERS[cls] = _one_reader(names[0])
    for item in read(value):
        if item.__class__ is str:
            if "@" in item:
                return True
        elif item is not None and item != () and item.__class__ is not bytes:
            return True
    return False


def _no_texts(_value: Any) -> tuple[()]:
    return ()


def _one_reader(name: str) -> Callable[[Any], tuple[Any]]:
    get = operator.attrgetter(name)
    return lambda value: (get(value),)


_TEXT_READERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


#: Per dataclass, the fields that may hold text (the others are numbers, flags and statuses):
#: an event costs a few attribute reads when no secret is in it (the executor's hot path).
_TEXT_FIELDS: dict[type, tuple[str, ...]] = {}
_NOT_TEXT = (int, float, bool, type(None), Enum)


def _text_fields(cls: type) -> tuple[str, ...]:
    names = _TEXT_FIELDS.get(cls)
    if names is None:
        hints = typing.get_type_hints(cls)
        names = tuple(
            f.name for f in dataclasses.fields(cls) if f.init and _may_hold_text(hints[f.name])
        )
        _TEXT_FIELDS[cls] = names
    return names


def _may_hold_text(hint: Any) -> bool:
    options = (
        typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, UnionType) else (hint,)
    )
    return not all(isinstance(o, type) and issubclass(o, _NOT_TEXT) for o in options)


class RedactingStream:
    """A text stream that redacts what is written to it before passing it on (the console's
    file); everything else (isatty, fileno, encoding...) is the wrapped stream's."""

    def __init__(self, file: IO[str], redactor: Redactor) -> None:
        self._file = file
        self._redactor = redactor

    @property
    def wrapped(self) -> IO[str]:
        """The stream this one writes to."""
        return self._file

    def write(self, text: str) -> int:
        """Write `text`, redacted."""
        self._file.write(self._redactor.text(text))
        return len(text)

    def flush(self) -> None:
        """Flush the wrapped stream."""
        self._file.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)
