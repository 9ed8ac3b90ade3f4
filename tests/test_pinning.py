"""The window's certificate decisions (desktop/pinning.py) against a real TLS host on loopback:
what the lobby advertised, what was remembered, and a first visit."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.pinning import Pinning, PinStore, fetch_room
from server.runner import ServerThread
from server.settings import Settings
from server.tls import safety_code
from tests.tls_helpers import cert_fingerprint, make_cert


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[ServerThread, bytes, str]]:
    cert, key = make_cert(tmp_path, "host")
    thread = ServerThread(Settings(room="Far room", host="127.0.0.1", port=0,
                                   data_dir=tmp_path / "far", discovery=False,
                                   tls_cert_file=cert, tls_key_file=key)).start()
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    yield thread, der, cert_fingerprint(cert)
    thread.stop()


def test_a_lobby_room_is_judged_by_its_advertised_fingerprint(tmp_path: Path, host) -> None:
    thread, der, fp = host
    url = f"https://127.0.0.1:{thread.port}/"
    peers: list[dict[str, Any]] = [{"id": "r1", "name": "Far room", "host": "127.0.0.1",
                                    "port": thread.port, "fingerprint": fp}]
    pinning = Pinning(PinStore(tmp_path), lambda: peers)
    assert pinning.judge(url, der).action == "accept"
    assert PinStore(tmp_path).get("r1") == fp  # remembered for later visits
    peers[0]["fingerprint"] = "0" * 64  # advertised one certificate, presents another
    refused = pinning.judge(url, der)
    assert refused.action == "refuse" and "announced itself" in refused.text
    assert safety_code("0" * 64) in refused.text and safety_code(fp) in refused.text
    # A forged announcement (the attacker's own fingerprint) for a room joined before.
    PinStore(tmp_path).remember("r1", "3" * 64, "Far room", url)
    peers[0]["fingerprint"] = fp
    refused = pinning.judge(url, der)
    assert refused.action == "refuse" and "joined before" in refused.text


def test_a_typed_address_is_asked_once_then_remembered(tmp_path: Path, host) -> None:
    thread, der, fp = host
    url = f"https://127.0.0.1:{thread.port}/"
    store = PinStore(tmp_path)
    pinning = Pinning(store, lambda: [])
    first = pinning.judge(url, der)
    room_id = thread.app.state.room.store.room_id
    assert first.action == "ask" and first.room_id == room_id and first.room == "Far room"
    assert safety_code(fp) in first.text
    store.remember(room_id, fp, "Far room", url)
    assert Pinning(PinStore(tmp_path), lambda: []).judge(url, der).action == "accept"
    assert oct((tmp_path / "pins.json").stat().st_mode & 0o777) == "0o600"
    store.remember(room_id, "1" * 64, "Far room", url)  # as if it had another certificate
    refused = pinning.judge(url, der)
    assert refused.action == "refuse" and "joined before" in refused.text


def test_what_is_not_a_room_over_tls_is_refused(tmp_path: Path, host) -> None:
    thread, der, fp = host
    pinning = Pinning(PinStore(tmp_path), lambda: [])
    assert pinning.judge(f"http://127.0.0.1:{thread.port}/", der).action == "refuse"
    assert pinning.judge(f"https://127.0.0.1:{thread.port}/", b"").action == "refuse"
    # The room id is read only from a connection that shows the same certificate.
    with pytest.raises(ssl.SSLError):
        fetch_room("127.0.0.1", thread.port, "2" * 64)
    assert fetch_room("127.0.0.1", thread.port, fp)["room"] == "Far room"
    closed = Pinning(PinStore(tmp_path), lambda: [],
                     fetch=lambda *_: (_ for _ in ()).throw(OSError("refused")))
    verdict = closed.judge(f"https://127.0.0.1:{thread.port}/", der)
    assert verdict.action == "refuse" and "did not answer" in verdict.text
