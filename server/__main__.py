"""``python -m server``: host a LAN Chat room with no window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__, netinfo
from .config import ConfigError, add_host_options, resolve
from .listen import bind_socket
from .runner import Server, uvicorn_config
from .settings import Settings
from .store import StoreError, check_data_dir
from .tls import TlsError, load_identity


def headless_defaults() -> Settings:
    """A headless host is there to be joined: it listens on every interface unless told."""
    return Settings(host="0.0.0.0")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m server", description="Host a LAN Chat room (no window). Settings come "
        "from these options, then LANCHAT_<FIELD> variables, then the config file.")
    p.add_argument("--host", default=None,
                   help="address to listen on (default: every interface, so the LAN can join)")
    add_host_options(p)
    p.add_argument("--password-file", type=Path, default=None,
                   help="protect the room with the password in this file (first line); "
                        "or set LANCHAT_PASSWORD. Never given on the command line, where "
                        "other users of this computer could read it")
    p.add_argument("--standby", default=None, metavar="URL",
                   help="stand by for the room served at URL: keep a replica of its history "
                        "here and take the room over when its host stops or vanishes. Needs "
                        "the host's admin password (LANCHAT_ADMIN_PASSWORD) when it has one, "
                        "else the room's password if any")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """The host's settings: options > environment > config file > defaults."""
    own: dict[str, object] = {}
    if args.host is not None:
        own["host"] = args.host
    if getattr(args, "standby", None):
        url = str(args.standby).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--standby {args.standby}: give the room's address, "
                              "like https://192.168.1.20:8765")
        own["standby_url"] = url
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"--password-file {args.password_file}: {exc.strerror}") from None
        own["password"] = (lines[0].strip() if lines else "") or None
    settings = resolve(args, headless_defaults(), os.environ if environ is None else environ, own)
    return settings.with_(password=settings.password or None)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"LAN Chat: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        print(f"LAN Chat: cannot listen on {settings.host}:{settings.port}: {exc.strerror}. "
              "Pick another --port.", file=sys.stderr)
        return 2
    settings = settings.with_(port=sock.getsockname()[1])
    try:
        check_data_dir(settings.data_dir)
    except StoreError as exc:
        print(f"LAN Chat: {exc.detail}", file=sys.stderr)
        sock.close()
        return 2
    try:
        config = uvicorn_config(settings)
        identity = load_identity(settings)
    except TlsError as exc:
        print(f"LAN Chat: {exc.detail}", file=sys.stderr)
        sock.close()
        return 2
    log = logging.getLogger("lanchat")
    if settings.standby_url:
        log.info("LAN Chat %s standing by for %s; replica in %s", __version__,
                 settings.standby_url, settings.data_dir)
    else:
        log.info("LAN Chat %s hosting %r; data in %s", __version__, settings.room,
                 settings.data_dir)
    for url in netinfo.room_urls(settings.host, settings.port, tls=identity is not None):
        log.info("open %s in a browser to join", url)
    if identity is not None:
        log.info("encrypted (TLS); safety code %s, certificate SHA-256 %s",
                 identity.safety_code, identity.fingerprint)
    else:
        log.warning("not encrypted (TLS off or loopback only): anyone on the network path "
                    "can read this room's traffic")
    print(f"LAN Chat is serving on http://127.0.0.1:{settings.port}/", flush=True)
    Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
