"""`/chat/{room}`: presence, broadcast with increasing ids, user names, bad messages."""

from __future__ import annotations

from runner.server import TestServer
from tests.integration.server.clients import open_ws, recv_json


def test_joining_announces_the_user_to_everyone_in_the_room(server: TestServer) -> None:
    with open_ws(server, "/chat/presence?user=alice") as alice:
        assert recv_json(alice) == {
            "type": "join",
            "room": "presence",
            "user": "alice",
            "members": ["alice"],
        }
        with open_ws(server, "/chat/presence", additional_headers={"X-User": "bob"}) as bob:
            joined = {
                "type": "join",
                "room": "presence",
                "user": "bob",
                "members": ["alice", "bob"],
            }
            assert recv_json(alice) == joined
            assert recv_json(bob) == joined
        assert recv_json(alice) == {
            "type": "leave",
            "room": "presence",
            "user": "bob",
            "members": ["alice"],
        }


def test_said_goes_to_everyone_including_the_sender_with_increasing_ids(
    server: TestServer,
) -> None:
    with open_ws(server, "/chat/lobby?user=alice") as alice:
        recv_json(alice)
        with open_ws(server, "/chat/lobby?user=bob") as bob:
            recv_json(alice), recv_json(bob)
            alice.send('{"type": "say", "text": "hello"}')
            bob.send('{"type": "say", "text": "hi"}')
            first, second = recv_json(bob), recv_json(bob)
            assert [recv_json(alice), recv_json(alice)] == [first, second]
    assert first == {
        "type": "said",
        "id": first["id"],
        "room": "lobby",
        "from": "alice",
        "text": "hello",
    }
    assert second["from"] == "bob"
    assert second["id"] > first["id"]


def test_rooms_are_separate(server: TestServer) -> None:
    with open_ws(server, "/chat/red?user=r") as red, open_ws(server, "/chat/blue?user=b") as blue:
        recv_json(red), recv_json(blue)
        red.send('{"type": "say", "text": "only red"}')
        assert recv_json(red)["text"] == "only red"
        blue.send('{"type": "say", "text": "only blue"}')
        assert recv_json(blue)["text"] == "only blue"


def test_user_without_a_name_gets_a_guest_name(server: TestServer) -> None:
    with open_ws(server, "/chat/guests") as ws:
        assert recv_json(ws)["user"].startswith("guest-")


def test_header_wins_over_query_for_the_user_name(server: TestServer) -> None:
    with open_ws(server, "/chat/names?user=q", additional_headers={"X-User": "h"}) as ws:
        assert recv_json(ws)["user"] == "h"


def test_room_name_is_url_decoded(server: TestServer) -> None:
    with open_ws(server, "/chat/my%20room?user=u") as ws:
        assert recv_json(ws)["room"] == "my room"


def test_bad_messages_get_an_error_only_for_the_sender(server: TestServer) -> None:
    with open_ws(server, "/chat/errors?user=a") as ws:
        recv_json(ws)
        for bad in ("not json", '{"type": "shout"}', '{"type": "say", "text": 1}', b"\x01"):
            ws.send(bad)
            error = recv_json(ws)
            assert error["type"] == "error"
            assert "say" in error["message"]
