"""URLs are sent as a browser would: spaces and non-ASCII percent-encoded, escapes kept."""

from __future__ import annotations

from websockets.sync.server import ServerConnection

from runner.client import create_websocket
from tests.support import timeout, url_of, websockets_server


def _path_echo(conn: ServerConnection) -> None:
    assert conn.request is not None
    conn.send(conn.request.path)


def test_spaces_and_non_ascii_are_percent_encoded_and_escapes_kept() -> None:
    with websockets_server(_path_echo) as server:
        ws = create_websocket()
        paths: list[str] = []
        ws.on("message", lambda err, data: paths.append(data))
        url = url_of(server, "/close?reason=go away&name=grüße&x=a%20b")
        assert ws.connect(url).result(timeout()) is True
        assert ws.url == url_of(server, "/close?reason=go%20away&name=gr%C3%BC%C3%9Fe&x=a%20b")
        # The server sends the path and closes (its handler returns): no client close to race.
        assert ws.wait_closed(timeout())
    assert paths == ["/close?reason=go%20away&name=gr%C3%BC%C3%9Fe&x=a%20b"]
