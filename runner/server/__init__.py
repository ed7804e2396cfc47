"""The built-in test server: WebSocket endpoints that behave like real services.

`TestServer` runs it on a thread (for tests and suite services); `serve_main` is `wsrun serve`.
The endpoints, documented in the README:

========================  ==============================================================
``/echo``                 echo text as text and binary as binary
``/chat/{room}``          chat rooms: join/leave presence, ``say`` broadcast as ``said``
``/rpc``                  JSON requests/responses by id, notifications after ``subscribe``
``/ticker``               ``count`` ticks every ``interval`` ms, then close 1000
``/close``                close with ``code`` and ``reason``, at once or on message
``/auth``                 401 without a bearer token; with one, a welcome then echo
``/subprotocol``          negotiates ``chat.v2`` or ``chat.v1`` and says which
``/heartbeat``            a heartbeat every ``interval`` ms while echoing
``/fragmented``           answers each message with ``size`` bytes in ``fragment``-byte frames
``/large``                one binary message of ``size`` bytes, then echo
========================  ==============================================================
"""

from runner.server.app import ENDPOINT_PATHS
from runner.server.main import DEFAULT_PORT, serve_main
from runner.server.running import TestServer

__all__ = ["DEFAULT_PORT", "ENDPOINT_PATHS", "TestServer", "serve_main"]
