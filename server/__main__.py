"""``python -m server``: host a LAN Chat room with no window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__, netinfo
from .runner import Server, bind_socket, uvicorn_config
from .settings import Settings, default_room_name
from .store import StoreError, check_data_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m server",
                                description="Host a LAN Chat room (no window).")
    p.add_argument("--host", default="0.0.0.0",
                   help="address to listen on (default: every interface, so the LAN can join)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 = any free)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where history and shared files live (default: your user data folder)")
    p.add_argument("--room", default=None, help="the room's name (default: \"<user>'s room\")")
    p.add_argument("--no-discovery", action="store_true",
                   help="do not advertise this room on the LAN")
    p.add_argument("--max-upload-mb", type=int, default=None, help="largest file one may share")
    p.add_argument("--password-file", type=Path, default=None,
                   help="protect the room with the password in this file (first line); "
                        "or set LANCHAT_PASSWORD. Never given on the command line, where "
                        "other users of this computer could read it")
    p.add_argument("--rate", type=float, default=None,
                   help="messages a second one person may send (default 10, bursts of 20)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--version", action="version", version=f"LAN Chat {__version__}")
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    changes: dict[str, object] = {"host": args.host, "port": args.port,
                                  "room": args.room or default_room_name(),
                                  "discovery": not args.no_discovery}
    if args.data_dir is not None:
        changes["data_dir"] = args.data_dir.expanduser().resolve()
    password = os.environ.get("LANCHAT_PASSWORD") or None
    if args.password_file is not None:
        password = args.password_file.read_text(encoding="utf-8").splitlines()[0].strip() or None
    changes["password"] = password
    if args.rate is not None:
        changes["messages_per_second"] = args.rate
        changes["message_burst"] = max(1, int(args.rate * 2))
    if args.max_upload_mb is not None:
        changes["max_upload_bytes"] = args.max_upload_mb * 1024 * 1024
    return Settings().with_(**changes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from(args)
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
    log = logging.getLogger("lanchat")
    log.info("LAN Chat %s hosting %r; data in %s", __version__, settings.room, settings.data_dir)
    for url in netinfo.room_urls(settings.host, settings.port):
        log.info("open %s in a browser to join", url)
    print(f"LAN Chat is serving on http://127.0.0.1:{settings.port}/", flush=True)
    Server(uvicorn_config(settings)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
