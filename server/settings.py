"""Every knob of a LAN Chat host in one frozen dataclass, with defaults safe on a shared LAN."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import paths


def default_room_name() -> str:
    """"<user>'s room", the name a host gets unless it picks one."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some sandboxes
        user = socket.gethostname() or "LAN"
    return f"{user}'s room"


@dataclass(frozen=True)
class Settings:
    """How one host behaves. Limits are enforced by the server, whatever the client does."""

    room: str = field(default_factory=default_room_name)
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = field(default_factory=paths.user_data_dir)
    static_dir: Path = field(default_factory=paths.static_dir)

    # A room password (kept in memory only; the host hashes it at start). None: an open room.
    password: str | None = field(default=None, repr=False)
    # The host's admin password: whoever signs in with it may delete any message and remove
    # people for a while. None: only the desktop app's own window moderates (it is given a
    # random one when it starts hosting).
    admin_password: str | None = field(default=None, repr=False)
    # The hosting person's name: clients are told who closed the room when it shuts down.
    host_name: str | None = None
    # Host names this host answers to besides its own name, localhost and IP addresses.
    extra_hosts: tuple[str, ...] = ()

    # TLS (server/tls.py): a host listening beyond loopback serves HTTPS and WSS, with a
    # self-signed certificate made on first start unless a certificate and key are given.
    # False: plain HTTP, for a reverse proxy that terminates TLS in front of the host.
    tls: bool = True
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # With tls off: the proxies whose X-Forwarded-For / X-Forwarded-Proto are believed, so
    # per-address limits and the Secure cookie see the real client. Ignored with tls on.
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)

    # Chat limits.
    max_message_bytes: int = 8 * 1024  # UTF-8 bytes of one message's text
    max_name_chars: int = 32
    max_edit_bytes: int = 8 * 1024  # UTF-8 bytes of an edit's new text
    max_reactions_per_message: int = 20  # different emoji on one message
    searches_per_second: float = 2.0  # sustained searches per person
    search_burst: int = 10
    search_page: int = 20  # results in a search answer unless the client asks for fewer
    # Message rates belong to the person (their client_id) and hold across reconnects.
    messages_per_second: float = 10.0  # sustained rate per person
    message_burst: int = 20  # short bursts above the rate
    # One address may send as much as this many people together (every client on one machine
    # shares its address), whatever client_ids it makes up.
    address_rate_factor: float = 3.0
    max_connections_per_address: int = 64
    max_connections: int = 10_000
    # Joins (accepted hellos): each may store a join event shown to everyone, so they are
    # limited per address and per person, across reconnects. Over the limit: close 4429.
    join_burst_per_address: int = 30
    joins_per_second_per_address: float = 0.5
    join_burst_per_person: int = 10
    joins_per_second_per_person: float = 0.2
    # How many people and addresses the rate limits remember (the oldest is forgotten first;
    # a limit that has refilled is forgotten anyway).
    rate_memory: int = 10_000

    # Every TCP connection (page loads, event streams, WebSockets), before any route sees it
    # (server/connections.py). Per address: a classroom behind one NAT at 64 chat connections
    # plus a few page loads each fits; so does the desktop window. In all: also kept below the
    # process's open-file limit, which the host raises to its hard maximum at start.
    max_open_connections_per_address: int = 256
    max_open_connections: int = 12_000
    max_header_bytes: int = 16 * 1024  # a request's line and headers together
    header_timeout_seconds: float = 10.0  # from a request's first byte (or the connection's start)
    body_idle_timeout_seconds: float = 30.0  # a request body (an upload) that sends nothing
    max_peer_streams: int = 32  # open /api/peers/stream listeners, in all

    # Fan-out: frames waiting for one client before it counts as stuck and is disconnected.
    client_queue_frames: int = 1024
    # Frame each event once and write it to every socket directly (see server/directsend.py).
    direct_send: bool = True
    # Bytes waiting for one client (its outbox plus the socket's buffer) before it is stuck.
    client_buffer_bytes: int = 2 * 1024 * 1024
    # A client with bytes waiting that reads none of them for this long is closed (4408); one
    # that does not take its close either is cut off when the keepalive would call the link
    # dead (ping interval + timeout), and what was buffered for it is freed.
    send_timeout_seconds: float = 10.0
    # A user whose last connection drops is shown as left only after this grace, so a page
    # reload or a short Wi-Fi blip does not print leave/join lines.
    leave_grace_seconds: float = 5.0
    # Stored join and leave lines wait up to this long to go out together, so a crowd joining
    # at once costs each socket a few writes instead of one per committed batch (0: at once).
    presence_batch_seconds: float = 0.05
    # Keepalive: a ping every interval; no pong within the timeout closes a half-open link.
    ping_interval_seconds: float = 10.0
    ping_timeout_seconds: float = 15.0

    # History.
    history_page: int = 50  # events in a fresh client's welcome
    max_page: int = 500  # the most events one request may ask for
    resume_cap: int = 1000  # the most missed events a welcome carries; the rest by paging
    welcome_max_bytes: int = 512 * 1024  # and the most bytes of them, in any welcome
    page_max_bytes: int = 512 * 1024  # the most bytes of events in one /api/events page

    # Files.
    max_upload_bytes: int = 4 * 1024**3
    max_total_upload_bytes: int = 50 * 1024**3
    max_uploads_per_address: int = 4  # uploads in progress at once from one address
    # Resumable uploads (POST /api/files/uploads): chunk size a client should send, and how
    # long an unfinished upload is kept on disk after its last byte arrived.
    resumable_chunk_bytes: int = 8 * 1024**2
    partial_upload_expire_seconds: float = 24 * 3600.0

    # False in the desktop app's lobby: the server then answers only this machine's window,
    # browses the LAN for rooms, and advertises nothing until the user hosts a room.
    hosting: bool = True

    # Discovery (zeroconf). None means every usable interface.
    discovery: bool = True
    discovery_interfaces: tuple[str, ...] | None = None
    # zeroconf keeps a crashed host listed for 18+ minutes, so each peer's /api/health is probed:
    # a peer is hidden after this many failed probes in a row (crash seen in under 10 s).
    discovery_probe_interval_seconds: float = 2.0
    discovery_probe_timeout_seconds: float = 1.5
    discovery_probe_failures: int = 2
    # How often the advertised user count and this machine's addresses are compared with now.
    discovery_check_seconds: float = 1.0

    # Succession (server/succession.py, server/standby.py). ``standby_url``: this process
    # keeps a replica of the room served at that URL and stands by to take it over.
    standby_url: str | None = None
    # A desktop app in a room stands by for it (a preference turns it off).
    standby: bool = True
    standby_files_max_bytes: int = 4 * 1024**3  # shared files a replica keeps, oldest out first
    # A standby whose host vanished retries it this long, then waits its rank times this
    # much (checking whether an earlier successor serves) before it takes the room over.
    standby_grace_seconds: float = 3.0
    standby_rank_delay_seconds: float = 3.0
    # The SHA-256 (hex) of the certificate the host at ``standby_url`` must present, when
    # known beforehand (the desktop app pinned it when its window joined): the standby's
    # first link, which carries the passwords and receives the room's key, is checked too.
    standby_fingerprint: str | None = None
    # A standby holds private messages and the TLS key, so where the host has an admin
    # password, standing by needs it. The desktop app's hosted rooms turn this off: their admin
    # key is the window's own, never shared, so there the room password (if any) is enough,
    # and the admin key is not passed on.
    standby_needs_admin: bool = True

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def ws_max_frame_bytes(self) -> int:
        """Largest WebSocket frame accepted: a full-length message even if JSON-escaped."""
        return self.max_message_bytes * 6 + 4096
