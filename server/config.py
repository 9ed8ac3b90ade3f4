"""The host's options, declared once for ``python -m server`` and ``python -m desktop``.

Every :class:`~server.settings.Settings` field can be set from four places; the first that has
it wins:

1. the command line (a few named options, and ``--set FIELD=VALUE`` for any field);
2. the environment, ``LANCHAT_<FIELD>`` (``LANCHAT_MAX_CONNECTIONS_PER_ADDRESS=200``);
3. a TOML file: ``--config PATH``, else ``lanchat.toml`` in the user config folder if it exists;
4. the defaults of the program (a headless host listens on every interface, the desktop app's
   lobby on loopback only).

A value that does not fit its field is refused with one line naming the field and where it came
from (:class:`ConfigError`), so an admin sees at once which setting to fix.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import __version__, paths
from .settings import Settings

log = logging.getLogger(__name__)

ENV_PREFIX = "LANCHAT_"
CONFIG_FILE_NAME = "lanchat.toml"


class ConfigError(Exception):
    """A setting that cannot be used; the message is one line naming the field and source."""


def field_types() -> dict[str, Any]:
    """Each Settings field's name and its type, resolved from the annotations."""
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def default_config_path() -> Path:
    """Where a host looks for its config file when ``--config`` is not given."""
    return paths.user_config_dir() / CONFIG_FILE_NAME


# Converting values ------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def convert(name: str, hint: Any, value: object, source: str, typed: bool = False) -> object:
    """``value`` (the text of a variable or option, or with ``typed`` a TOML value, which
    must already have the field's type) as field ``name``'s type."""
    try:
        if typed and isinstance(value, str) and _base(hint) in (int, float, bool, tuple):
            raise ValueError({int: "needs a whole number", float: "needs a number",
                              bool: "needs true or false", tuple: "needs a list of text"
                              }[_base(hint)])
        return _convert(hint, value)
    except (TypeError, ValueError) as exc:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ConfigError(f"{source}: setting '{name}' {exc}, not {shown}") from None


def _base(hint: Any) -> Any:
    """The type under ``X | None`` and ``tuple[...]``."""
    if isinstance(hint, types.UnionType):
        hint = [a for a in typing.get_args(hint) if a is not type(None)][0]
    return typing.get_origin(hint) or hint


def _convert(hint: Any, value: object) -> object:
    if isinstance(hint, types.UnionType):  # X | None: the only unions Settings has
        inner = [a for a in typing.get_args(hint) if a is not type(None)][0]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        return _convert(inner, value)
    if typing.get_origin(hint) is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ValueError("needs a list of text (comma-separated in a variable)")
        return tuple(i.strip() for i in items if i.strip())
    if hint is bool:
        return _to_bool(value)
    if hint is int:
        return _non_negative(_to_int(value))
    if hint is float:
        return _non_negative(_to_float(value))
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("needs a folder path")
        return Path(value).expanduser().resolve()
    if hint is str:
        if not isinstance(value, str):
            raise ValueError("needs text")
        return value
    raise TypeError(f"has a type ({hint}) that cannot be configured")


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("needs true or false")


def _to_int(value: object) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("needs a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError("needs a whole number") from None
    raise ValueError("needs a whole number")


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("needs a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError("needs a number") from None
    raise ValueError("needs a number")


def _non_negative(number: int | float) -> int | float:
    if number < 0 or number != number:  # NaN is not a limit either
        raise ValueError("needs a number of 0 or more")
    return number


# Reading the sources ----------------------------------------------------------------------

def from_file(path: Path, must_exist: bool) -> dict[str, object]:
    """The settings in a TOML file (top-level keys named as the fields)."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    known = field_types()
    source = f"config file {path}"
    values: dict[str, object] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigError(f"{source}: unknown setting '{key}' (the README's Configuration "
                              "section lists them)")
        values[name] = convert(name, known[name], value, source, typed=True)
    if ({"password", "admin_password"} & values.keys()) and _readable_by_others(path):
        log.warning("%s holds a password and other users of this computer can read "
                    "it: chmod 600 it", path)
    return values


def _readable_by_others(path: Path) -> bool:
    try:
        return os.name == "posix" and bool(path.stat().st_mode & 0o044)
    except OSError:
        return False


def from_environment(environ: Mapping[str, str]) -> dict[str, object]:
    """The settings given as ``LANCHAT_<FIELD>`` variables."""
    known = field_types()
    values: dict[str, object] = {}
    for var, text in environ.items():
        if not var.startswith(ENV_PREFIX):
            continue
        name = var[len(ENV_PREFIX):].lower()
        if name not in known:
            log.warning("ignoring %s: LAN Chat has no setting '%s'", var, name)
            continue
        values[name] = convert(name, known[name], text, f"environment variable {var}")
    return values


def parse_set(items: list[str] | None) -> dict[str, object]:
    """``--set FIELD=VALUE`` options."""
    known = field_types()
    values: dict[str, object] = {}
    for item in items or []:
        name, eq, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or name not in known:
            raise ConfigError(f"--set {item}: expected FIELD=VALUE with a setting's name "
                              "(the README's Configuration section lists them)")
        values[name] = convert(name, known[name], text, f"--set {name}")
    return values


# The command line -------------------------------------------------------------------------

def add_host_options(p: argparse.ArgumentParser) -> None:
    """The options both programs share. Defaults are None: "not given", so that the
    environment and the config file can still set the field."""
    p.add_argument("--port", type=int, default=None,
                   help="TCP port (default 8765; 0 = any free port)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where history and shared files live (default: your user data folder)")
    p.add_argument("--room", default=None, help="the room's name (default: \"<user>'s room\")")
    p.add_argument("--no-discovery", action="store_true", default=None,
                   help="neither advertise this room on the LAN nor look for others")
    p.add_argument("--no-tls", action="store_true", default=None,
                   help="serve plain HTTP even beyond loopback (behind a reverse proxy that "
                        "terminates TLS); default: HTTPS with a self-signed certificate")
    p.add_argument("--max-upload-mb", type=int, default=None,
                   help="the largest file one may share, in MiB (default 4096)")
    p.add_argument("--rate", type=float, default=None,
                   help="messages a second one person may send (default 10, bursts of twice that)")
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help=f"a TOML file of settings (default: {CONFIG_FILE_NAME} in your user "
                        "config folder, if it exists)")
    p.add_argument("--set", action="append", default=None, metavar="FIELD=VALUE",
                   help="set any setting (repeatable), e.g. --set max_connections_per_address=200")
    p.add_argument("--version", action="version", version=f"LAN Chat {__version__}")


def from_options(args: argparse.Namespace) -> dict[str, object]:
    """The settings named by the shared options and ``--set`` (``--set`` loses to a named one)."""
    values = parse_set(getattr(args, "set", None))
    named: dict[str, object] = {}
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise ConfigError(f"--port {args.port}: a port is 0 to 65535")
        named["port"] = args.port
    if args.data_dir is not None:
        named["data_dir"] = args.data_dir.expanduser().resolve()
    if args.room is not None:
        named["room"] = args.room
    if args.no_discovery:
        named["discovery"] = False
    if getattr(args, "no_tls", None):
        named["tls"] = False
    if args.max_upload_mb is not None:
        named["max_upload_bytes"] = _to_mib(args.max_upload_mb)
    if args.rate is not None:
        rate = _to_float(args.rate)
        if rate <= 0:
            raise ConfigError(f"--rate {args.rate}: messages a second must be more than 0")
        named["messages_per_second"] = rate
        named["message_burst"] = max(1, int(rate * 2))
    return {**values, **named}


def _to_mib(megabytes: int) -> int:
    if megabytes <= 0:
        raise ConfigError(f"--max-upload-mb {megabytes}: a size must be more than 0")
    return megabytes * 1024 * 1024


def resolve(args: argparse.Namespace, base: Settings,
            environ: Mapping[str, str] | None = None,
            cli: Mapping[str, object] | None = None) -> Settings:
    """``base`` overlaid with the config file, the environment and the command line, in that
    order. ``cli`` adds what a program's own options set (a password file, say)."""
    environ = os.environ if environ is None else environ
    explicit = getattr(args, "config", None)
    path = explicit.expanduser() if explicit is not None else default_config_path()
    values = from_file(path, must_exist=explicit is not None)
    values.update(from_environment(environ))
    values.update(from_options(args))
    values.update(cli or {})
    settings = base.with_(**values)
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    """Rules across fields, or beyond a type, that the sources cannot check alone."""
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"setting 'port' is {settings.port}: a port is 0 to 65535")
    if not settings.room.strip():
        raise ConfigError("setting 'room' is empty: a room needs a name")


# The README's table ------------------------------------------------------------------------

# What each field means, for people: the README's Configuration table is made from this and the
# defaults (a test keeps the two equal), so a new field without a line here fails the suite.
FIELD_HELP: dict[str, str] = {
    "room": "the room's name",
    "host": "address to listen on (`python -m server`: every interface; the desktop app's "
            "lobby: loopback only, until you host)",
    "port": "TCP port (`0`: any free port)",
    "data_dir": "where history (`history.sqlite3`) and shared files live",
    "static_dir": "the UI's files (`index.html`, `css/`, `js/`)",
    "password": "the room's password (kept in memory as a hash; prefer `LANCHAT_PASSWORD` or "
                "`--password-file` to a config file)",
    "admin_password": "the host's admin password: signing in with it (`POST /api/login`) lets "
                      "a person delete any message and remove people for a while (kept in "
                      "memory as a hash; prefer `LANCHAT_ADMIN_PASSWORD`)",
    "host_name": "the hosting person's name, told to everyone when they close the room",
    "extra_hosts": "host names this host answers to besides its own name, localhost and IP "
                   "addresses (a reverse proxy's name, say)",
    "tls": "serve HTTPS and WSS when listening beyond loopback (false, or `--no-tls`: plain "
           "HTTP, for a reverse proxy that terminates TLS)",
    "tls_cert_file": "a PEM certificate to serve instead of the self-signed one the host makes "
                     "in its data folder (with `tls_key_file`)",
    "tls_key_file": "the PEM private key of `tls_cert_file`",
    "forwarded_allow_ips": "with TLS off: proxy addresses whose `X-Forwarded-For` and "
                           "`X-Forwarded-Proto` are believed (`*`: any)",
    "max_message_bytes": "UTF-8 bytes of one message's text",
    "max_name_chars": "characters of a display name",
    "max_edit_bytes": "UTF-8 bytes of an edit's new text",
    "max_reactions_per_message": "different emoji on one message (`too_many_reactions` past it)",
    "searches_per_second": "searches one person may send a second, on average",
    "search_burst": "searches one person may send at once above that rate",
    "search_page": "results in one search answer unless the client asks for fewer (at most "
                   "`max_page`)",
    "messages_per_second": "messages one person may send a second, on average",
    "message_burst": "messages one person may send at once above that rate",
    "max_connections_per_address": "WebSocket connections from one address (raise it for a "
                                   "classroom behind one NAT address)",
    "max_connections": "WebSocket connections in all",
    "max_open_connections_per_address": "TCP connections one address may hold at once: page "
                                        "loads, event streams and WebSockets alike, before any "
                                        "route runs (`429` past it; an IPv6 /64 counts as one "
                                        "address). Raise it with "
                                        "`max_connections_per_address`",
    "max_open_connections": "TCP connections in all, further kept below the open-file limit "
                            "(which the host raises to its hard maximum at start); `503` past it",
    "max_header_bytes": "bytes of a request's line and headers together (`431` past it)",
    "header_timeout_seconds": "seconds a request's head may take from its first byte, or from "
                              "the connection's start (`408`, or a silent close if nothing came)",
    "body_idle_timeout_seconds": "seconds a request body (an upload) may send nothing before "
                                 "it is cut off with `408`",
    "max_peer_streams": "open `/api/peers/stream` listeners in all (`503` past it)",
    "address_rate_factor": "one address may send as many messages as this many people together, "
                           "whatever `client_id`s it makes up",
    "join_burst_per_address": "joins (accepted hellos) one address may make at once; over the "
                              "limit: `too_many_joins` with `retry_after`, close 4429",
    "joins_per_second_per_address": "joins one address may make a second after that burst",
    "join_burst_per_person": "joins (connections) one person may make at once",
    "joins_per_second_per_person": "joins one person may make a second after that burst",
    "rate_memory": "people and addresses the rate and join limits remember across reconnects "
                   "(the least recently seen go first)",
    "client_queue_frames": "frames waiting for one client before it counts as stuck and is "
                           "disconnected (4408)",
    "direct_send": "write each event's frame straight to every socket (the fast lane)",
    "client_buffer_bytes": "bytes waiting for one client (its queue and its socket) before it "
                           "counts as stuck and is disconnected (4408)",
    "send_timeout_seconds": "seconds a client may leave bytes waiting without reading any before "
                            "it is disconnected (4408); one that does not take the close is cut "
                            "off when the keepalive would call the link dead",
    "leave_grace_seconds": "seconds before a person whose last connection dropped is shown as "
                           "left",
    "presence_batch_seconds": "seconds stored join and leave lines may wait to go out together, "
                              "so a crowd joining at once costs each socket a few writes (0: "
                              "at once)",
    "ping_interval_seconds": "seconds between keepalive pings",
    "ping_timeout_seconds": "seconds without a pong before a link counts as dead",
    "history_page": "events in a fresh client's welcome",
    "max_page": "the most events one history request may ask for",
    "resume_cap": "the most missed events one welcome carries (the rest by paging)",
    "welcome_max_bytes": "the most bytes of events one welcome carries (always at least one)",
    "page_max_bytes": "the most bytes of events one `/api/events` page carries (always at least "
                      "one; `has_more` says to page on)",
    "max_upload_bytes": "the largest file one may share, in bytes",
    "max_total_upload_bytes": "space for all shared files, in bytes, counting uploads in "
                              "progress",
    "max_uploads_per_address": "uploads in progress at once from one address (`429` past it)",
    "resumable_chunk_bytes": "the piece size clients send resumable uploads in",
    "partial_upload_expire_seconds": "seconds an unfinished upload is kept after its last "
                                     "byte arrived",
    "hosting": "advertise and serve the room to the LAN (false: the desktop app's lobby)",
    "discovery": "advertise this room and look for others with mDNS",
    "discovery_interfaces": "the addresses mDNS uses (default: every usable interface)",
    "discovery_probe_interval_seconds": "seconds between health probes of each discovered room",
    "discovery_probe_timeout_seconds": "seconds one health probe may take",
    "discovery_probe_failures": "failed probes in a row before a room is hidden from the lobby",
    "discovery_check_seconds": "seconds between checks of this host's addresses and user count",
    "standby_url": "stand by for the room served at this URL (`--standby URL`): keep a "
                   "replica of it and take it over when its host stops or vanishes",
    "standby": "the desktop app stands by for the rooms it is in (false: never)",
    "standby_files_max_bytes": "bytes of shared files a replica keeps (the oldest go first); "
                               "files beyond it show as no longer available after a take-over",
    "standby_grace_seconds": "seconds a standby retries a host that vanished before it "
                             "considers taking the room over",
    "standby_rank_delay_seconds": "seconds each successor waits per rank (the first waits none) "
                                  "before taking over, checking whether an earlier one did",
    "standby_fingerprint": "SHA-256 (hex) of the certificate the host at `standby_url` must "
                           "present (none: the first one seen, then the room's own)",
    "standby_needs_admin": "where the host has an admin password, standing by needs it (a "
                           "standby holds private messages and the TLS key); false: the room "
                           "password is enough and the admin password is not passed on (the "
                           "desktop app's hosted rooms)",
}

_DEFAULT_TEXT = {"room": "`<user>'s room`", "data_dir": "the user data folder",
                 "static_dir": "the bundled UI", "host": "`127.0.0.1`", "password": "none",
                 "admin_password": "none", "standby_url": "none", "standby_fingerprint": "none",
                 "discovery_interfaces": "every interface",
                 "tls_cert_file": "none (self-signed)", "tls_key_file": "none"}


def _default_text(f: dataclasses.Field[Any]) -> str:
    if f.name in _DEFAULT_TEXT:
        return _DEFAULT_TEXT[f.name]
    value = f.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "none" if not value else "`" + ",".join(value) + "`"
    if f.name.endswith("_bytes") and isinstance(value, int) and value % 1024 == 0:
        for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if value % size == 0:
                return f"`{value}` ({value // size:,} {unit})"
    return f"`{value}`"


def settings_table() -> str:
    """The README's table of every setting: name, variable, default, meaning."""
    rows = ["| setting | environment variable | default | meaning |", "| --- | --- | --- | --- |"]
    for f in dataclasses.fields(Settings):
        rows.append(f"| `{f.name}` | `{ENV_PREFIX}{f.name.upper()}` | {_default_text(f)} | "
                    f"{FIELD_HELP.get(f.name, '')} |")
    return "\n".join(rows) + "\n"
