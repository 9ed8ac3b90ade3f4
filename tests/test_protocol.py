"""The protocol's parsing rules, as pure functions."""

from __future__ import annotations

import json

import pytest

from server.protocol import (
    Hello,
    Ping,
    ProtocolError,
    SendMessage,
    Typing,
    clean_name,
    name_key,
    parse_frame,
    parse_hello,
    user_id_for,
)


def test_hello_is_parsed_and_names_are_cleaned() -> None:
    hello = parse_hello(json.dumps({"type": "hello", "name": "  Ada \t Lovelace ",
                                    "client_id": "c-1", "since": 5}), 32)
    assert hello == Hello(name="Ada Lovelace", client_id="c-1", since=5)


@pytest.mark.parametrize("raw,code", [
    ("not json", "bad_json"),
    ("[1,2]", "bad_frame"),
    ('{"type": "message"}', "hello_required"),
    ('{"type": "hello", "name": ""}', "bad_name"),
    ('{"type": "hello", "name": "a\\u202eb"}', "bad_name"),
    ('{"type": "hello", "name": "x", "since": -1}', "bad_field"),
    ('{"type": "hello", "name": "x", "since": true}', "bad_field"),
    ('{"type": "hello", "name": "x", "since": 99999999999999999999999}', "bad_field"),
    ('{"type": "hello", "name": "x", "client_id": "../etc"}', "bad_field"),
    ('{"type": "hello", "name": 5}', "bad_name"),
])
def test_bad_hellos_are_refused_with_a_code(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_hello(raw, 32)
    assert err.value.code == code and err.value.detail


@pytest.mark.parametrize("frame,code", [
    ({"type": "message", "text": "x" * 9000, "client_msg_id": "m"}, "too_long"),
    ({"type": "message", "text": "é" * 4097, "client_msg_id": "m"}, "too_long"),
    ({"type": "message", "text": "   ", "client_msg_id": "m"}, "empty"),
    ({"type": "message", "text": 3, "client_msg_id": "m"}, "bad_field"),
    ({"type": "message", "text": "hi"}, "bad_field"),
    ({"type": "message", "text": "hi", "client_msg_id": "m", "file_id": 7}, "bad_field"),
    ({"type": "fly"}, "unknown_type"),
    ({"type": "hello", "name": "again"}, "already_joined"),
])
def test_bad_frames_are_refused_with_a_code(frame: dict[str, object], code: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_frame(json.dumps(frame), 8192)
    assert err.value.code == code


def test_good_frames() -> None:
    assert parse_frame('{"type":"typing"}', 10) == Typing()
    assert parse_frame('{"type":"ping"}', 10) == Ping()
    assert parse_frame('{"type":"message","text":"' + "x" * 8192 + '","client_msg_id":"a"}',
                       8192) == SendMessage("x" * 8192, "a", None)


def test_names_that_look_alike_compare_equal() -> None:
    assert name_key("Ada") == name_key("ADA") == name_key("Аda")  # Cyrillic А
    assert name_key("Bob1") == name_key("bobl")
    assert name_key("Zoë") == name_key("Zoe")
    assert clean_name("Zoe\u0308", 32) == "Zoë"


def test_user_id_does_not_reveal_the_client_id() -> None:
    uid = user_id_for("secret-client-id")
    assert "secret" not in uid and len(uid) == 16 and uid == user_id_for("secret-client-id")
