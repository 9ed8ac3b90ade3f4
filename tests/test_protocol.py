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
    names_clash,
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


def test_names_are_compared_by_the_confusables_skeleton() -> None:
    alice = name_key("Alice")
    for twin in ("AIice", "Al\u0131ce", "\u0251lice", "\u0410lice", "ALICE", "\uff21lice",
                 "Al\u00edce"):
        assert names_clash(alice, name_key(twin)), twin
    assert names_clash(name_key("Hannah"), name_key("Hanna\u04bb"))  # Cyrillic һ
    assert names_clash(name_key("rnario"), name_key("mario"))
    for other in ("Alicia", "Al1ce", "Ali", "Bob"):
        assert not names_clash(alice, name_key(other)), other


@pytest.mark.parametrize("cp", [0x00AD, 0x034F, 0x115F, 0x1160, 0x17B4, 0x180B, 0x200B, 0x202E,
                                0x2060, 0x2800, 0x3164, 0xFE00, 0xFE0F, 0xFEFF, 0xFFA0, 0x1BCA0,
                                0x1D173, 0xE0001, 0xE0100])
def test_invisible_and_blank_characters_are_refused_in_names(cp: int) -> None:
    with pytest.raises(ProtocolError) as err:
        clean_name(f"Ali{chr(cp)}ce", 32)
    assert err.value.code == "bad_name" and f"U+{cp:04X}" in err.value.detail


def test_user_id_does_not_reveal_the_client_id() -> None:
    uid = user_id_for("secret-client-id")
    assert "secret" not in uid and len(uid) == 16 and uid == user_id_for("secret-client-id")
