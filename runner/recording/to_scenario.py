"""A recorded session -> the text of a scenario file that replays it.

The draft generalises what would change between runs:

- a value the server sent that a later message of the client repeats becomes a ``save`` on the
  ``expect`` and a ``${var}`` reference in the sends that repeat it (correlation);
- ids, timestamps and UUIDs the server made become ``{{integer}}``, ``{{number}}`` or
  ``{{string}}`` placeholders (a value the client sent before is kept: it is an echo);
- a heartbeat (three or more alike messages of a connection) becomes a scenario ``reply`` rule
  when the client answered each the same way, else an ``ignore`` rule;
- ``Authorization``, ``Cookie``, token-like headers and query parameters become
  ``${env.NAME}`` references: their values are never written (nor where a message repeats them).

Every step carries a comment with its original time.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from runner.recording.session import Close, Connection, Exchange, Frame, Session

__all__ = ["Draft", "scenario_text"]

# Not worth replaying: set by the client library itself, or hop-by-hop (RFC 7230 6.1).
_DROPPED_HEADERS = {
    "host", "connection", "upgrade", "origin", "user-agent", "accept", "accept-encoding",
    "accept-language", "cache-control", "pragma", "content-length", "keep-alive",
    "proxy-connection", "te", "trailer", "transfer-encoding", "dnt", "referer",
}  # fmt: skip
_SECRET_WORDS = re.compile(r"token|auth|secret|password|passwd|api[-_]?key|session|cookie", re.I)
_TYPE_KEYS = ("type", "op", "event", "method", "action", "kind", "cmd", "channel")
_HEARTBEAT_NAME = re.compile(r"heart|ping|pong|keep[-_ ]?alive|^hb$", re.I)
_VOLATILE_KEY = re.compile(
    r"^(id|uuid|guid|ts|timestamp|time|date|at|nonce|sid|session|seq|token)$|(_id|Id|_at|At|_ts)$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?")
_HEARTBEAT_MIN = 3
# A value is looked for in the text of this many later messages (a correlation is near).
_CORRELATION_WINDOW = 1000
_RE_SPECIAL = re.compile(r"[\\.^$|?*+()\[\]{}]")


@dataclass
class Draft:
    """The scenario's text, and the environment variables it needs (name -> what it holds)."""

    text: str
    env: dict[str, str] = field(default_factory=dict)
    steps: int = 0


def scenario_text(session: Session, name: str, header: str = "") -> Draft:
    """The scenario that replays `session`; `header` is a comment for the top of the file."""
    return _Builder(session).build(name, header)


@dataclass
class _Uses:
    """What the client sends, in time order: one text with each use's offset, and the last
    time each JSON value was sent."""

    times: list[float] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    text: str = ""
    last_leaf: dict[Any, float] = field(default_factory=dict)


@dataclass
class _Step:
    time: float
    conn: str
    body: dict[str, Any]


class _Builder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.secrets: dict[str, str] = {}  # secret value -> env name
        self.env: dict[str, str] = {}  # env name -> what it holds
        self.saved: dict[Any, str] = {}  # value saved from a message -> variable
        self.sent_values: set[Any] = set()
        self.frames = sorted(session.frames, key=lambda f: f.time)
        self.prior: dict[Any, str] = {}
        self._first_frame: dict[str, float] = {}
        self._variables: set[str] = set()
        self._uses_index: _Uses | None = None
        self._pieces: tuple[tuple[int, int], re.Pattern[str] | None, dict[str, str]] = (
            (-1, -1),
            None,
            {},
        )
        self.rules: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])

    def build(self, name: str, header: str) -> Draft:
        heartbeat_frames = self._heartbeats()
        items: list[tuple[float, int, Any]] = [
            (self._opened(c), 0, c) for c in self.session.connections
        ]
        items += [(e.time, 1, e) for e in self.session.exchanges]
        items += [
            (f.time, 2, (i, f)) for i, f in enumerate(self.frames) if i not in heartbeat_frames
        ]
        items += [(c.time, 3, c) for c in self.session.closes]
        items.sort(key=lambda item: item[:2])
        steps = [self._step(thing) for _, _, thing in items]
        return Draft(self._text(name, header, steps), dict(self.env), len(steps))

    def _step(self, thing: Any) -> _Step:
        """The step of one recorded thing; in time order, so that saves come before uses."""
        if isinstance(thing, Connection):
            return self._connect(thing)
        if isinstance(thing, Exchange):
            return self._http(thing)
        if isinstance(thing, Close):
            return self._close(thing)
        index, frame = thing
        return self._frame_step(index, frame)

    def _opened(self, connection: Connection) -> float:
        """When to open it: clocks may disagree (a HAR's startedDateTime and its frames')."""
        if not self._first_frame:
            for frame in reversed(self.frames):
                self._first_frame[frame.conn] = frame.time
            self._first_frame[""] = 0.0  # built
        first = self._first_frame.get(connection.name)
        return connection.time if first is None else min(connection.time, first)

    # -- secrets -----------------------------------------------------------------------------

    def _secret(self, value: str, env_name: str, what: str) -> str:
        if value not in self.secrets:
            name, n = env_name, 1
            while name in self.env:
                n += 1
                name = f"{env_name}_{n}"
            self.secrets[value] = name
            self.env[name] = what
        return f"${{env.{self.secrets[value]}}}"

    def _headers(self, headers: list[tuple[str, str]], time: float) -> dict[str, str]:
        kept = {}
        for name, value in headers:
            lower = name.lower()
            if lower in _DROPPED_HEADERS or lower.startswith("sec-"):
                continue
            if lower == "cookie":
                value = self._cookies_not_from_the_jar(value, time)
                if not value:
                    continue
            kept[name] = self._header_value(name, value)
        return kept

    def _cookies_not_from_the_jar(self, value: str, time: float) -> str:
        """The cookies of a Cookie header that no earlier HTTP response set: the scenario's
        cookie jar sends those itself."""
        jar = {n for e in self.session.exchanges if e.time < time for n in e.sets_cookies}
        pairs = [p.strip() for p in value.split(";") if p.strip()]
        return "; ".join(p for p in pairs if p.partition("=")[0].strip() not in jar)

    def _header_value(self, name: str, value: str) -> str:
        lower = name.lower()
        if value in self.saved:  # a value an earlier response gave
            return f"${{{self.saved[value]}}}"
        if lower == "authorization":
            scheme, _, credentials = value.partition(" ")
            if credentials in self.saved:
                return f"{scheme} ${{{self.saved[credentials]}}}"
            if credentials and scheme.lower() in ("bearer", "basic", "token"):
                token = self._secret(credentials, "AUTH_TOKEN", "the Authorization header's token")
                return f"{scheme} {token}"
            return self._secret(value, "AUTHORIZATION", "the Authorization header")
        if lower == "cookie":
            return self._secret(value, "COOKIE", "the Cookie header")
        if _SECRET_WORDS.search(name):
            return self._secret(value, _env_name(name), f"the {name} header")
        return _literal(value)

    def _url(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        query = []
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            if value in self.saved:
                value = f"${{{self.saved[value]}}}"
            elif value and _SECRET_WORDS.search(key):
                value = self._secret(value, _env_name(key), f"the query parameter {key}")
            else:
                value = _literal(urllib.parse.quote(value, safe=""))
            query.append(f"{urllib.parse.quote(key, safe='')}={value}")
        base = _literal(urllib.parse.urlunsplit(parts._replace(query="", fragment="")))
        return base + ("?" + "&".join(query) if query else "")

    # -- connections and closes ----------------------------------------------------------------

    def _connect(self, connection: Connection) -> _Step:
        body: dict[str, Any] = {"conn": connection.name, "url": self._url(connection.url)}
        headers = self._headers(connection.headers, connection.time)
        if headers:
            body["headers"] = headers
        if connection.subprotocols:
            body["subprotocols"] = list(connection.subprotocols)
        if connection.status != 101:
            body["expect_status"] = connection.status
        return _Step(self._opened(connection), connection.name, {"connect": body})

    def _http(self, exchange: Exchange) -> _Step:
        body: dict[str, Any] = {"method": exchange.method, "url": self._url(exchange.url)}
        headers = self._headers(exchange.headers, exchange.time)
        request = _json_container(exchange.body or "")
        if request is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        if headers:
            body["headers"] = headers
        if request is not None:
            self.sent_values.update(value for _, value in _leaves(request))
            body["json"] = self._outgoing(request)
        elif exchange.body:
            body["text"] = self._outgoing_text(exchange.body)
        expect: dict[str, Any] = {}
        if exchange.status:
            expect["status"] = exchange.status
        answer = _json_container(exchange.response or "")
        save: dict[str, str] = {}
        if answer is not None:
            self.prior = dict(self.saved)
            expect["json"] = self._expected(answer, "$", exchange.time, save)
        if expect:
            body["expect"] = expect
        if save:
            body["save"] = save
        return _Step(exchange.time, "", {"http": body})

    def _close(self, close: Close) -> _Step:
        body: dict[str, Any] = {"conn": close.conn}
        if close.by == "send":
            body["code"] = close.code if close.code is not None else 1000
            if close.reason:
                body["reason"] = _literal(close.reason)
            return _Step(close.time, close.conn, {"close": body})
        if close.code is not None:
            body["code"] = close.code
        return _Step(close.time, close.conn, {"expect_close": body})

    # -- frames -------------------------------------------------------------------------------

    def _frame_step(self, index: int, frame: Frame) -> _Step:
        if frame.direction == "send":
            return _Step(frame.time, frame.conn, {"send": self._send(index, frame)})
        return _Step(frame.time, frame.conn, {"expect": self._expect(index, frame)})

    def _send(self, index: int, frame: Frame) -> dict[str, Any]:
        body: dict[str, Any] = {"conn": frame.conn}
        if isinstance(frame.data, bytes):
            body["binary"] = {"base64": base64.b64encode(frame.data).decode()}
            return body
        parsed = _json_container(frame.data)
        if parsed is None:
            body["text"] = self._outgoing_text(frame.data)
        else:
            self.sent_values.update(value for _, value in _leaves(parsed))
            body["json"] = self._outgoing(parsed)
        self.sent_values.add(frame.data)
        return body

    def _outgoing(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {_literal(k): self._outgoing(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._outgoing(v) for v in value]
        if _hashable_leaf(value) and value in self.saved:
            return f"${{{self.saved[value]}}}"
        if isinstance(value, str):
            return self._outgoing_text(value)
        return value

    def _outgoing_text(self, text: str) -> str:
        """The text with `${` escaped, secrets and saved values as references."""
        key = (len(self.secrets), len(self.saved))
        if self._pieces[0] != key:
            pieces = {v: f"${{env.{n}}}" for v, n in self.secrets.items()}
            pieces.update({v: f"${{{n}}}" for v, n in self.saved.items() if isinstance(v, str)})
            self._pieces = (key, _pattern(pieces), pieces)
        _, pattern, pieces = self._pieces
        return _replace_all(text, pattern, pieces)

    def _expect(self, index: int, frame: Frame) -> dict[str, Any]:
        body: dict[str, Any] = {"conn": frame.conn}
        if isinstance(frame.data, bytes):
            body["binary"] = {"base64": base64.b64encode(frame.data).decode()}
            return body
        parsed = _json_container(frame.data)
        if parsed is None:
            body.update(self._text_matcher(frame.data))
            return body
        save: dict[str, str] = {}
        self.prior = dict(self.saved)  # what this very message saves is not known inside it
        body["json"] = self._expected(parsed, "$", frame.time, save)
        if save:
            body["save"] = save
        return body

    def _text_matcher(self, text: str) -> dict[str, Any]:
        hidden = [s for s in self.secrets if s in text]
        if not hidden:
            return {"text": _literal(text)}
        pattern = re.compile("|".join(re.escape(s) for s in sorted(hidden, key=len, reverse=True)))
        parts = [_RE_SPECIAL.sub(r"\\\g<0>", part) for part in pattern.split(text)]
        return {"regex": _literal("^" + ".+".join(parts) + "$")}

    def _expected(self, value: Any, path: str, time: float, save: dict[str, str]) -> Any:
        if isinstance(value, dict):
            return {
                _literal(k): self._expected(v, _child(path, k), time, save)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._expected(v, f"{path}[{i}]", time, save) for i, v in enumerate(value)]
        if isinstance(value, str) and value in self.secrets:
            return "{{string}}"
        if _kind_key(path):  # a message's kind ("type": "said") is what the step waits for
            return _literal(value) if isinstance(value, str) else value
        if _hashable_leaf(value) and value in self.prior:  # saved by an earlier step
            return f"${{{self.prior[value]}}}"
        if self._worth_saving(value, path, time):
            variable = self._variable(path)
            save[variable] = path
            self.saved[value] = variable
            self._variables.add(variable)
            return _placeholder(value)
        if _volatile(path, value) and value not in self.sent_values:
            return _placeholder(value)
        return _literal(value) if isinstance(value, str) else value

    def _worth_saving(self, value: Any, path: str, time: float) -> bool:
        """A value the server made (not sent before) that something later repeats."""
        if isinstance(value, bool) or value is None or value in self.sent_values:
            return False
        if isinstance(value, str) and len(value) < 4:
            return False
        if isinstance(value, (int, float)) and not (
            isinstance(value, int) and abs(value) >= 1000 and _VOLATILE_KEY.search(_key(path))
        ):
            return False  # a small number, or one that is no id: a coincidence, likely
        if value in self.saved:
            return False
        return self._used_after(value, time)

    def _used_after(self, value: Any, time: float) -> bool:
        """Whether a send, handshake or request after `time` repeats `value` (as a JSON value
        or, for a string, inside its text)."""
        uses = self._uses()
        if _hashable_leaf(value) and uses.last_leaf.get(value, -1.0) > time:
            return True
        if not isinstance(value, str):
            return False
        first = bisect.bisect_right(uses.times, time)
        if first == len(uses.times):
            return False
        last = first + _CORRELATION_WINDOW
        end = uses.offsets[last] if last < len(uses.offsets) else len(uses.text)
        return _has_word(uses.text, value, uses.offsets[first], end)

    def _uses(self) -> _Uses:
        """An index of everything the client sends, built once (a HAR may have many frames)."""
        if self._uses_index is not None:
            return self._uses_index
        found: list[tuple[float, str, Any]] = []
        for frame in self.frames:
            if frame.direction == "send" and isinstance(frame.data, str):
                found.append((frame.time, frame.data, _json_container(frame.data)))
        for c in self.session.connections:
            found.append((self._opened(c), "\n".join([c.url, *(v for _, v in c.headers)]), None))
        for e in self.session.exchanges:
            text = "\n".join([e.url, e.body or "", *(v for _, v in e.headers)])
            found.append((e.time, text, _json_container(e.body or "")))
        found.sort(key=lambda use: use[0])
        uses = _Uses()
        position = 0
        for at, text, parsed in found:
            uses.times.append(at)
            uses.offsets.append(position)
            position += len(text) + 1
            for _, leaf in _leaves(parsed) if parsed is not None else ():
                if _hashable_leaf(leaf):
                    uses.last_leaf[leaf] = max(at, uses.last_leaf.get(leaf, at))
        uses.text = "\x00".join(text for _, text, _ in found)
        self._uses_index = uses
        return uses

    def _variable(self, path: str) -> str:
        words = re.findall(r"[A-Za-z][A-Za-z0-9_]*", path.rsplit(".", 1)[-1])
        base = (words[0] if words else "value").lower()
        name, n = base, 1
        while name in self._variables:
            n += 1
            name = f"{base}_{n}"
        return name

    # -- heartbeats -----------------------------------------------------------------------------

    def _heartbeats(self) -> set[int]:
        """Indexes of frames that scenario rules take care of (heartbeats and their answers)."""
        taken: set[int] = set()
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, frame in enumerate(self.frames):
            if frame.direction == "receive":
                groups.setdefault((frame.conn, *_heartbeat_key(frame.data)), []).append(i)
        for members in groups.values():
            if len(members) < _HEARTBEAT_MIN:
                continue
            answers = [self._answer(i) for i in members]
            if all(a is not None for a in answers):
                rule = _reply_rule(self.frames, members, [a for a in answers if a is not None])
                if rule is not None:
                    self.rules[1].append(rule)
                    taken.update(members, (a for a in answers if a is not None))
                    continue
            if _is_heartbeat(self.frames, members):
                self.rules[0].append(_when(self.frames, members)[0])
                taken.update(members)
        return taken

    def _answer(self, index: int) -> int | None:
        """The next frame of the same connection, when it is a send."""
        conn = self.frames[index].conn
        for j in range(index + 1, len(self.frames)):
            if self.frames[j].conn == conn:
                return j if self.frames[j].direction == "send" else None
        return None

    # -- text ------------------------------------------------------------------------------------

    def _text(self, name: str, header: str, steps: list[_Step]) -> str:
        lines = [f"# {line}".rstrip() for line in header.splitlines()]
        lines += [f"# {note}" for note in self.session.notes]
        if self.env:
            lines.append("# Set these environment variables before running it:")
            lines += [f"#   {env}: {what}" for env, what in self.env.items()]
        lines.append(_dump({"name": _literal(name)}))
        ignore, reply = self.rules
        if ignore:
            lines.append("# heartbeats seen in the recording")
            lines.append(_dump({"ignore": ignore}))
        if reply:
            lines.append("# messages the client answered the same way every time")
            lines.append(_dump({"reply": reply}))
        lines.append("steps:")
        start = steps[0].time if steps else 0.0
        for step in steps:
            lines.append(f"  # {_clock(step.time)} (+{step.time - start:.3f}s)")
            lines.append(_indent(_dump([step.body])))
        return "\n".join(lines) + "\n"


def _dump(value: Any) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's, when PyYAML has it
    text = yaml.dump(value, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
    return text.rstrip("\n")


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


def _clock(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def _literal(text: str) -> str:
    """A recorded string as a scenario writes it: `${` would start a template."""
    return text.replace("${", "$${")


def _pattern(pieces: dict[str, str]) -> re.Pattern[str] | None:
    if not pieces:
        return None
    return re.compile("|".join(re.escape(k) for k in sorted(pieces, key=len, reverse=True)))


def _replace_all(text: str, pattern: re.Pattern[str] | None, pieces: dict[str, str]) -> str:
    """`text` with `${` escaped and each match of `pattern` replaced by its piece."""
    if pattern is None:
        return _literal(text)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [_literal(text[last : match.start()]), pieces[match.group()]]
        last = match.end()
    return "".join([*out, _literal(text[last:])])


def _env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "SECRET"


def _json_container(text: str) -> Any:
    """The JSON object or array `text` holds, else None (plain text stays text)."""
    if text[:1] not in ("{", "["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def _leaves(value: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, _child(path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def _child(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _key(path: str) -> str:
    return re.sub(r"\[.*$", "", path.rsplit(".", 1)[-1])


def _has_word(text: str, value: str, start: int, end: int) -> bool:
    """Whether `value` is in `text[start:end]`, not inside a longer word or number
    (`item-5` is not in `item-50`)."""
    at = text.find(value, start, end)
    while at != -1:
        before = text[at - 1 : at] if at > start else ""
        after = text[at + len(value) : at + len(value) + 1]
        if not (value[0].isalnum() and before.isalnum()) and not (
            value[-1].isalnum() and after.isalnum()
        ):
            return True
        at = text.find(value, at + 1, end)
    return False


def _kind_key(path: str) -> bool:
    return path.rsplit(".", 1)[-1] in _TYPE_KEYS


def _hashable_leaf(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _placeholder(value: Any) -> str:
    if isinstance(value, bool):
        return "{{boolean}}"
    if isinstance(value, int):
        return "{{integer}}"
    if isinstance(value, float):
        return "{{number}}"
    return "{{string}}" if isinstance(value, str) else "{{any}}"


def _volatile(path: str, value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    key = re.sub(r"\[.*$", "", path.rsplit(".", 1)[-1])
    if isinstance(value, str):
        return bool(_UUID.match(value) or _ISO_TIME.match(value)) or bool(
            _VOLATILE_KEY.search(key) and key != "seq"
        )
    if isinstance(value, (int, float)):
        epoch = 1e9 <= value < 1e10 or 1e12 <= value < 1e13  # Unix seconds or milliseconds
        return epoch or bool(_VOLATILE_KEY.search(key) and key != "seq")
    return False


# -- heartbeat rules -------------------------------------------------------------------------


def _heartbeat_key(data: str | bytes) -> tuple[Any, ...]:
    if isinstance(data, bytes):
        return ("binary", data)
    parsed = _json_container(data)
    if isinstance(parsed, dict):
        kinds = tuple((k, parsed[k]) for k in _TYPE_KEYS if isinstance(parsed.get(k), str))
        return ("json", tuple(sorted(parsed)), kinds) if kinds else ("text", data)
    return ("text", data)


def _is_heartbeat(frames: list[Frame], members: list[int]) -> bool:
    datas = {frames[i].data for i in members}
    if len(datas) == 1:
        return True
    parsed = _json_container(str(frames[members[0]].data))
    kinds = [v for k, v in (parsed or {}).items() if k in _TYPE_KEYS and isinstance(v, str)]
    return any(_HEARTBEAT_NAME.search(kind) for kind in kinds)


def _when(frames: list[Frame], members: list[int]) -> tuple[dict[str, Any], dict[str, str]]:
    """The matcher of a heartbeat: what every member has in common; and what varies (path->name)."""
    first = frames[members[0]].data
    if isinstance(first, bytes):
        return {"binary": {"base64": base64.b64encode(first).decode()}}, {}
    parsed = _json_container(first)
    if not isinstance(parsed, dict):
        return {"text": _literal(first)}, {}
    others = [json.loads(str(frames[i].data)) for i in members]
    same = {k: v for k, v in parsed.items() if all(o.get(k) == v for o in others)}
    varying = {f"$.{k}": f"hb_{k}" for k in parsed if k not in same and re.fullmatch(r"\w+", k)}
    return {"json": _literal_tree(same)}, varying


def _reply_rule(
    frames: list[Frame], members: list[int], answers: list[int]
) -> dict[str, Any] | None:
    """A reply rule, when every answer is the same once values copied from its ping are named."""
    when, varying = _when(frames, members)
    shapes = []
    for ping, answer in zip(members, answers, strict=True):
        shapes.append(_answer_shape(frames[ping].data, frames[answer].data, varying))
    if any(s != shapes[0] for s in shapes) or shapes[0] is None:
        return None
    used = {path: name for path, name in varying.items() if f"${{{name}}}" in json.dumps(shapes[0])}
    if used:
        when["save"] = {name: path for path, name in used.items()}
    return {"when": when, "send": shapes[0]}


def _answer_shape(ping: str | bytes, answer: str | bytes, varying: dict[str, str]) -> Any:
    if isinstance(answer, bytes):
        return {"binary": {"base64": base64.b64encode(answer).decode()}}
    parsed_ping, parsed_answer = (
        _json_container(ping) if isinstance(ping, str) else None,
        _json_container(answer),
    )
    if not isinstance(parsed_answer, dict):
        return {"text": _literal(answer)}
    copied = {}
    if isinstance(parsed_ping, dict):
        copied = {
            json.dumps(parsed_ping[p[2:]]): n for p, n in varying.items() if p[2:] in parsed_ping
        }

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {_literal(k): shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        if json.dumps(value) in copied:
            return f"${{{copied[json.dumps(value)]}}}"
        return _literal(value) if isinstance(value, str) else value

    return {"json": shape(parsed_answer)}


def _literal_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {_literal(k): _literal_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal_tree(v) for v in value]
    return _literal(value) if isinstance(value, str) else value
