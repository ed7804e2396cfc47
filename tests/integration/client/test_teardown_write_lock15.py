"""A connection's socket is closed under the write lock: a write in progress on another thread
keeps its descriptor until it is done (found reading the 5,000-connection runs' "Bad file
descriptor" errors: a descriptor closed during a write can be reused by the next connection)."""

from __future__ import annotations

import threading

from runner.client import create_websocket
from tests.support import echo, timeout, url_of, websockets_server


def test_teardown_waits_for_a_write_in_progress_before_closing_the_socket() -> None:
    with websockets_server(echo) as server:
        ws = create_websocket()
        opened = threading.Event()
        ws.on("open", lambda _err, _value: opened.set())
        ws.connect(url_of(server))
        assert opened.wait(timeout(5))
        transport = ws._transport
        assert transport is not None
        raw = transport._ws
        sock = raw.sock
        assert sock is not None
        raw.lock.acquire()  # as a write on another thread holds it, between look-up and send
        try:
            done = threading.Event()
            closer = threading.Thread(target=lambda: (transport.teardown(), done.set()))
            closer.start()
            assert not done.wait(0.3)  # teardown waits for the write
            assert sock.fileno() != -1  # and the descriptor is still the write's
        finally:
            raw.lock.release()
        assert done.wait(timeout(5))
        closer.join(timeout(5))
        assert sock.fileno() == -1
        assert ws.wait_closed(timeout(5))
