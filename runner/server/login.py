"""The login endpoints: `/login` and `/whoami` answer plain HTTP; `/session` is a WebSocket that
wants the token and the cookie `/login` gave.

- ``POST /login`` (or GET) with the headers ``X-User`` and ``X-Password`` (the `websockets`
  library reads no request body, so the credentials come in headers): 200 with
  ``{"token": ..., "user": ...}`` and ``Set-Cookie: wsrun_session=...``; 401 with a JSON error
  for wrong credentials.
- ``/session``: a WebSocket that refuses the handshake with 401 unless it comes with
  ``Authorization: Bearer <token>`` and the cookie ``wsrun_session`` of the same login; its 101
  sets the cookie ``wsrun_visit``; it greets ``{"type": "welcome", "user": ..., "visit": N,
  "cookies": [...]}`` (N counts the session's connections; the names of the cookies the
  handshake came with, sorted), then echoes.
- ``GET /whoami``: ``{"cookies": {...}}``, the cookies the request came with.
"""

from __future__ import annotations

import http
import http.cookies
import json
import secrets
import threading
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from runner.server.common import Handler, echo_messages, send_json
from runner.server.target import HttpError, Target

__all__ = ["SESSION_COOKIE", "USERS", "VISIT_COOKIE", "Sessions"]

#: The users `/login` knows, with their passwords.
USERS = {"alice": "wonderland", "bob": "builder"}
SESSION_COOKIE = "wsrun_session"
VISIT_COOKIE = "wsrun_visit"


@dataclass
class _Session:
    user: str
    token: str
    visits: int = 0


class Sessions:
    """The logins of one server: token and session cookie of each."""

    def __init__(self) -> None:
        self._by_cookie: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def http(self, conn: ServerConnection, request: Request, path: str) -> Response | None:
        """The plain HTTP answer of `/login` or `/whoami`; None for other paths."""
        if path == "/login":
            return self._login(conn, request)
        if path == "/whoami":
            cookies = _cookies(request.headers.get("Cookie", ""))
            return _json(conn, http.HTTPStatus.OK, {"cookies": cookies})
        return None

    def _login(self, conn: ServerConnection, request: Request) -> Response:
        user = request.headers.get("X-User", "")
        password = request.headers.get("X-Password", "")
        if not user or USERS.get(user) != password:
            error = {"error": "unknown user or wrong password (headers X-User, X-Password)"}
            return _json(conn, http.HTTPStatus.UNAUTHORIZED, error)
        session = _Session(user, secrets.token_urlsafe(16))
        cookie = secrets.token_urlsafe(16)
        with self._lock:
            self._by_cookie[cookie] = session
        response = _json(conn, http.HTTPStatus.OK, {"token": session.token, "user": user})
        response.headers["Set-Cookie"] = f"{SESSION_COOKIE}={cookie}; Path=/; HttpOnly"
        return response

    def session(self, target: Target) -> Handler:
        """`/session`: refuse with 401 unless the login's token and cookie both come."""
        cookies = _cookies(target.headers.get("Cookie", ""))
        scheme, _, token = target.headers.get("Authorization", "").partition(" ")
        with self._lock:
            found = self._by_cookie.get(cookies.get(SESSION_COOKIE, ""))
            if found is not None and scheme.lower() == "bearer" and token.strip() == found.token:
                found.visits += 1
                session, visit = found, found.visits
            else:
                session = None
        if session is None:
            missing = "cookie" if found is None else "token"
            raise HttpError(
                http.HTTPStatus.UNAUTHORIZED,
                f"no valid session {missing}: POST /login first, then send its cookie "
                f"{SESSION_COOKIE} and the header Authorization: Bearer <token>",
            )
        user, names = session.user, sorted(cookies)

        async def run(conn: ServerConnection) -> None:
            welcome = {"type": "welcome", "user": user, "visit": visit, "cookies": names}
            await send_json(conn, welcome)
            await echo_messages(conn)

        return run

    @staticmethod
    def accepted(response: Response) -> None:
        """What `/session`'s 101 adds: the cookie ``wsrun_visit``."""
        response.headers["Set-Cookie"] = f"{VISIT_COOKIE}=1; Path=/"


def _cookies(header: str) -> dict[str, str]:
    parsed = http.cookies.SimpleCookie()
    try:
        parsed.load(header)
    except http.cookies.CookieError:
        return {}
    return {name: morsel.value for name, morsel in parsed.items()}


def _json(conn: ServerConnection, status: http.HTTPStatus, value: object) -> Response:
    response = conn.respond(status, json.dumps(value) + "\n")
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
