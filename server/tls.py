"""A host's TLS identity: its certificate, the fingerprint peers pin, and the safety code people
compare.

A host that listens beyond loopback serves HTTPS and WSS (unless an admin says ``tls = false``,
for a reverse proxy that terminates TLS). With no certificate given, it makes a self-signed one
on first start and keeps it in its data folder, so it presents the same identity after every
restart: a desktop app that pinned it, or a person who compared its safety code, can tell a
restarted host from a stranger in the middle.

No certificate authority vouches for a LAN address, so a browser warns once; what makes the
identity checkable is the SHA-256 fingerprint of the certificate (DER), advertised in the
zeroconf TXT record (``fp``) and in ``GET /api/room``, and a short safety code made from it that
two people can read to each other.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from . import netinfo
from .settings import Settings

log = logging.getLogger(__name__)

CERT_FILE = "tls-cert.pem"
KEY_FILE = "tls-key.pem"
VALID_DAYS = 10 * 365  # the identity must outlive the room: pins break when it changes
SAFETY_GROUPS = 4  # groups of four digits: 16 digits, about 53 bits of the fingerprint


class TlsError(Exception):
    """The certificate or key cannot be used; ``detail`` says which file and why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def listens_on_loopback(host: str) -> bool:
    """The host answers this machine only: what it says never crosses a wire."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_wanted(settings: Settings) -> bool:
    """TLS unless turned off, or the host answers this machine only (nothing on the wire)
    and was given no certificate of its own (one given means: serve it, wherever)."""
    if not settings.tls:
        return False
    return settings.tls_cert_file is not None or not listens_on_loopback(settings.host)


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, lower-case hex: what peers pin and TXT ``fp`` carries."""
    return hashlib.sha256(der).hexdigest()


def safety_code(fp: str) -> str:
    """Digits to read aloud, in groups of four ("0413 9920 ..."), from the fingerprint's start.

    Digits rather than words: every language reads them, and no word list ships with the app.
    A man in the middle would have to make a certificate whose code matches, about 2**53 tries;
    the desktop app compares the whole fingerprint, not this code."""
    number = int(fp[:16], 16) % 10 ** (4 * SAFETY_GROUPS)
    digits = f"{number:0{4 * SAFETY_GROUPS}d}"
    return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))


@dataclass(frozen=True)
class Identity:
    """The files a host serves TLS with, and what they mean to people."""

    cert_file: Path
    key_file: Path
    fingerprint: str

    @property
    def safety_code(self) -> str:
        return safety_code(self.fingerprint)

    def server_context(self) -> ssl.SSLContext:
        """TLS 1.2 and later, the key and certificate loaded; raises TlsError when unusable."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot use the certificate {self.cert_file} with the key "
                           f"{self.key_file}: {exc}") from None
        return context


def load_identity(settings: Settings) -> Identity | None:
    """The host's identity when it serves TLS (None when it does not). Makes the self-signed
    certificate on first start unless the settings name a certificate and key."""
    if not tls_wanted(settings):
        return None
    given = settings.tls_cert_file, settings.tls_key_file
    if (given[0] is None) != (given[1] is None):
        raise TlsError("give both tls_cert_file and tls_key_file, or neither")
    if given[0] is not None and given[1] is not None:
        cert_file, key_file = given[0], given[1]
    else:
        cert_file, key_file = settings.data_dir / CERT_FILE, settings.data_dir / KEY_FILE
        if not cert_file.exists() or not key_file.exists():
            make_self_signed(cert_file, key_file)
    try:
        pem = cert_file.read_text("ascii")
        der = ssl.PEM_cert_to_DER_cert(pem)
    except (OSError, ValueError) as exc:
        raise TlsError(f"cannot read the certificate {cert_file}: {exc}") from None
    return Identity(cert_file, key_file, fingerprint(der))


def _names() -> tuple[list[str], list[str]]:
    """Host names and IP addresses this machine answers to, for the certificate's SANs."""
    names = ["localhost"]
    host = socket.gethostname().strip().lower()
    if host and host not in names:
        names += [host, f"{host.split('.')[0]}.local"]
    return names, ["127.0.0.1", "::1", *netinfo.lan_addresses()]


def make_self_signed(cert_file: Path, key_file: Path) -> None:
    """A new ECDSA P-256 key and a self-signed certificate for this machine's names and
    addresses. The key is written readable by its owner only, before the certificate, so a
    certificate on disk always has its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    names, addresses = _names()
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = f"LAN Chat on {names[-1]}"[:64]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in dict.fromkeys(addresses)]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    key_file.parent.mkdir(parents=True, exist_ok=True)
    write_private(key_file, key_pem)
    tmp = cert_file.with_name(cert_file.name + ".tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp.replace(cert_file)
    log.info("made a self-signed certificate for %s (%s)", ", ".join(names + addresses),
             cert_file)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only, replacing ``path`` whole (a key)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)
