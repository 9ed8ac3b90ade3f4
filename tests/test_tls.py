"""The host's TLS: its certificate (made once, kept, or given), TLS and plain HTTP on one port,
what plain HTTP from elsewhere gets, and the cookie. Real uvicorn on loopback.

A host on 127.0.0.1 serves TLS only when given a certificate (loopback alone stays plain);
127.0.0.2 stands for "any other address" where plain HTTP must only ever get a redirect.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from server import netinfo
from server.config import ConfigError, resolve
from server.runner import ServerThread, uvicorn_config
from server.settings import Settings
from server.tls import TlsError, load_identity, safety_code
from tests.conftest import ROOT, wait_until
from tests.conftest import test_settings as host_settings
from tests.tls_helpers import cert_fingerprint, make_cert, served_fingerprint


def lan_settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(room="R", host="0.0.0.0", port=0, data_dir=tmp_path / "data",
                    discovery=False).with_(**changes)


def test_safety_code_is_four_groups_of_four_digits_from_the_fingerprint() -> None:
    a, b = "ab" * 32, "ab" * 31 + "cd"
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", safety_code(a))
    assert safety_code(a) == safety_code(a)
    assert safety_code("00" * 8 + "ff" * 24) == "0000 0000 0000 0000"
    assert safety_code(a) == safety_code(b)  # the code is the fingerprint's first 64 bits...
    assert safety_code("ff" + "ab" * 31) != safety_code(a)  # ...and depends on each of them


def test_a_lan_host_makes_its_certificate_once_and_keeps_it(tmp_path: Path) -> None:
    settings = lan_settings(tmp_path)
    first = load_identity(settings)
    assert first is not None
    assert first.cert_file == settings.data_dir / "tls-cert.pem"
    assert oct(first.key_file.stat().st_mode & 0o777) == "0o600"
    again = load_identity(settings)
    assert again is not None and again.fingerprint == first.fingerprint
    cert = x509.load_pem_x509_certificate(first.cert_file.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", *netinfo.lan_addresses()} <= ips
    assert socket.gethostname().lower() in sans.get_values_for_type(x509.DNSName)
    assert first.fingerprint == cert_fingerprint(first.cert_file)


def test_when_tls_is_on_off_or_given(tmp_path: Path) -> None:
    assert load_identity(lan_settings(tmp_path, host="127.0.0.1")) is None  # loopback: plain
    assert load_identity(lan_settings(tmp_path, tls=False)) is None
    assert not (tmp_path / "data").exists()  # nothing made when nothing is served
    cert, key = make_cert(tmp_path, "given")
    given = load_identity(lan_settings(tmp_path, host="127.0.0.1", tls_cert_file=cert,
                                       tls_key_file=key))
    assert given is not None and given.fingerprint == cert_fingerprint(cert)
    with pytest.raises(TlsError, match="both"):
        load_identity(lan_settings(tmp_path, tls_cert_file=cert))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(TlsError, match="junk.pem"):
        load_identity(lan_settings(tmp_path, tls_cert_file=tmp_path / "junk.pem",
                                   tls_key_file=key))
    other, _ = make_cert(tmp_path, "other")
    mismatched = load_identity(lan_settings(tmp_path, tls_cert_file=other, tls_key_file=key))
    assert mismatched is not None
    with pytest.raises(TlsError, match="cannot use the certificate"):
        mismatched.server_context()


def test_no_tls_and_certificate_options(tmp_path: Path) -> None:
    from server.__main__ import parse_args
    settings = resolve(parse_args(["--no-tls"]), Settings(host="0.0.0.0"), environ={})
    assert settings.tls is False
    settings = resolve(parse_args([]), Settings(host="0.0.0.0"), environ={
        "LANCHAT_TLS_CERT_FILE": str(tmp_path / "c.pem"),
        "LANCHAT_TLS_KEY_FILE": str(tmp_path / "k.pem"),
        "LANCHAT_FORWARDED_ALLOW_IPS": "10.0.0.5,10.0.0.6"})
    assert settings.tls is True and settings.tls_cert_file == tmp_path / "c.pem"
    assert settings.forwarded_allow_ips == ("10.0.0.5", "10.0.0.6")
    with pytest.raises(ConfigError, match="tls"):
        resolve(parse_args([]), Settings(), environ={"LANCHAT_TLS": "maybe"})


def test_forwarded_headers_are_believed_only_without_tls(tmp_path: Path) -> None:
    assert uvicorn_config(lan_settings(tmp_path)).proxy_headers is False
    plain = uvicorn_config(lan_settings(tmp_path, tls=False, forwarded_allow_ips=("10.1.1.1",)))
    assert plain.proxy_headers is True and plain.forwarded_allow_ips == ["10.1.1.1"]


def test_a_host_with_an_unusable_certificate_says_so_and_exits(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("junk")
    (tmp_path / "k.pem").write_text("junk")
    done = subprocess.run(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", "0", "--data-dir",
         str(tmp_path / "d"), "--no-discovery", "--set", f"tls_cert_file={tmp_path / 'c.pem'}",
         "--set", f"tls_key_file={tmp_path / 'k.pem'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot read the certificate" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def tls_host(tmp_path: Path):  # type: ignore[no-untyped-def]
    cert, key = make_cert(tmp_path, "host")
    settings = host_settings(tmp_path / "data", tls_cert_file=cert, tls_key_file=key,
                             password="pw", header_timeout_seconds=1.0,
                             max_open_connections_per_address=4)
    thread = ServerThread(settings).start()
    yield thread, cert_fingerprint(cert)
    thread.stop()


def test_tls_and_plain_share_the_port_and_the_cookie_is_secure_over_tls(tls_host) -> None:
    thread, fp = tls_host
    https, plain = f"https://127.0.0.1:{thread.port}", f"http://127.0.0.1:{thread.port}"
    assert served_fingerprint("127.0.0.1", thread.port) == fp
    with httpx.Client(verify=False) as http:
        info = http.get(f"{https}/api/room").json()
        assert info["fingerprint"] == fp and info["safety_code"] == safety_code(fp)
        assert info["urls"] == [f"https://127.0.0.1:{thread.port}/"]
        login = http.post(f"{https}/api/login", json={"password": "pw"})
        assert "; secure" in login.headers["set-cookie"].lower()
    # 127.0.0.1 is the desktop window's own address: plain there, and a plain cookie.
    login = httpx.post(f"{plain}/api/login", json={"password": "pw"})
    assert login.status_code == 200 and "secure" not in login.headers["set-cookie"].lower()


def test_plain_http_redirect_keeps_only_safe_parts_of_the_request(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "host")
    thread = ServerThread(host_settings(tmp_path / "data", host="127.0.0.2", tls_cert_file=cert,
                                        tls_key_file=key)).start()
    try:
        def ask(head: bytes) -> bytes:
            with socket.create_connection(("127.0.0.2", thread.port), timeout=10) as s:
                s.sendall(head)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            return data

        port = thread.port
        good = ask(f"GET /js/main.js?x=1 HTTP/1.1\r\nHost: mypc.local:{port}\r\n\r\n".encode())
        assert f"location: https://mypc.local:{port}/js/main.js?x=1\r\n".encode() in good
        evil = ask(b"GET /a<script> HTTP/1.1\r\nHost: evil\"><x:1\r\n\r\n")
        assert f"location: https://127.0.0.2:{port}/\r\n".encode() in evil
        assert b"<script>" not in evil and b"evil" not in evil
        huge = ask(b"GET / HTTP/1.1\r\nX: " + b"a" * 20_000)  # never ends: cut at the limit
        assert huge.startswith(b"HTTP/1.1 307 ")
    finally:
        thread.stop()


def test_silent_connections_count_and_time_out_before_their_first_byte(tls_host) -> None:
    thread, _ = tls_host
    silent = [socket.create_connection(("127.0.0.1", thread.port)) for _ in range(4)]
    try:
        extra = socket.create_connection(("127.0.0.1", thread.port))
        extra.settimeout(5)
        assert extra.recv(100) == b""  # over the per-address limit: closed at once
        extra.close()
        t0 = time.monotonic()
        silent[0].settimeout(5)
        assert silent[0].recv(100) == b""  # nothing sent: closed after header_timeout_seconds
        assert time.monotonic() - t0 < 3
        # Freed: a TLS client gets in again.
        wait_until(lambda: served_fingerprint("127.0.0.1", thread.port), timeout=5,
                   what="a new TLS connection")
    finally:
        for s in silent:
            s.close()


def test_a_bad_handshake_does_not_disturb_the_next_client(tls_host) -> None:
    thread, fp = tls_host
    with socket.create_connection(("127.0.0.1", thread.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05junkjunk")
        s.settimeout(5)
        try:
            s.recv(100)
        except (ConnectionResetError, TimeoutError):
            pass
    assert served_fingerprint("127.0.0.1", thread.port) == fp
