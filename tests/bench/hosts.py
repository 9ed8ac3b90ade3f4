"""The hosts a benchmark runs against, each in its own process (``python -m tests.bench.hosts``).

- ``ours``: the real LAN Chat app and uvicorn config (``server.runner.uvicorn_config``), with the
  rate and join limits lifted, since every load client comes from 127.0.0.1.
- ``naive``: the design such apps usually start from: a FastAPI endpoint, a list of sockets and
  ``await ws.send_json(event)`` to each in turn (so the event is re-encoded per recipient).
- ``ceiling``: a bare ``websockets`` server relaying with the library's own ``broadcast()``.
- ``rawsink``: a bare ASGI app that streams a request body to a file (the upload baseline).

Each prints ``PORT <n>`` once it listens on 127.0.0.1 and serves until SIGTERM. The three chat
hosts speak the same small protocol (hello, then a welcome; message frames relayed as events of
the same shape), so one load client drives them all.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from server.protocol import now_iso
from server.settings import Settings

from .common import raise_nofile

UVICORN_WS = {"ws": "websockets-sansio", "ws_per_message_deflate": False, "log_config": None,
              "access_log": False, "lifespan": "on", "timeout_graceful_shutdown": 2}


def bench_settings(data_dir: Path) -> Settings:
    return Settings(room="bench", host="127.0.0.1", port=0, data_dir=data_dir, discovery=False,
                    max_connections=50_000, max_connections_per_address=50_000,
                    max_open_connections=60_000, max_open_connections_per_address=60_000,
                    messages_per_second=1e6, message_burst=1_000_000,
                    join_burst_per_address=1_000_000, joins_per_second_per_address=1e6,
                    join_burst_per_person=1_000_000, joins_per_second_per_person=1e6)


def naive_app() -> Any:
    app = FastAPI()
    clients: list[WebSocket] = []
    ids = itertools.count(1)

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        hello = await ws.receive_json()
        user = {"id": str(hello.get("client_id", ""))[:16], "name": hello.get("name", "")}
        await ws.send_json({"type": "welcome", "you": user, "events": []})
        clients.append(ws)
        try:
            while True:
                frame = await ws.receive_json()
                event = {"type": "message", "id": next(ids), "ts": now_iso(), "user": user,
                         "text": frame.get("text", ""), "file": None,
                         "client_msg_id": frame.get("client_msg_id")}
                for other in list(clients):
                    try:
                        await other.send_json(event)
                    except Exception:  # noqa: BLE001 - a peer gone mid-loop
                        pass
        except WebSocketDisconnect:
            pass
        finally:
            clients.remove(ws)

    return app


async def serve_ceiling(port_out: list[int]) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()
    ids = itertools.count(1)

    async def handler(ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        user = {"id": str(hello.get("client_id", ""))[:16], "name": hello.get("name", "")}
        await ws.send(json.dumps({"type": "welcome", "you": user, "events": []}))
        clients.add(ws)
        try:
            async for raw in ws:
                frame = json.loads(raw)
                event = {"type": "message", "id": next(ids), "ts": now_iso(), "user": user,
                         "text": frame.get("text", ""), "file": None,
                         "client_msg_id": frame.get("client_msg_id")}
                broadcast(clients, json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        finally:
            clients.discard(ws)

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=64 * 1024,
                     ping_interval=10, ping_timeout=15) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"PORT {port}", flush=True)
        await stop


def rawsink_app(folder: Path) -> Any:
    counter = itertools.count()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = folder / f"raw-{next(counter)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        size = 0
        try:
            while True:
                message = await receive()
                body = message.get("body", b"")
                size += len(body)
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view):]
                if not message.get("more_body", False):
                    break
            os.fsync(fd)
        finally:
            os.close(fd)
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps({"size": size}).encode()})

    return app


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["ours", "naive", "ceiling", "rawsink"])
    p.add_argument("--data-dir", type=Path, required=True)
    args = p.parse_args()
    raise_nofile()
    if args.kind == "ceiling":
        import uvloop

        uvloop.run(serve_ceiling([]))
        return 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if args.kind == "ours":
        # Imported here so the baselines run even while the app is being edited.
        from server.runner import Server, uvicorn_config

        settings = bench_settings(args.data_dir).with_(port=port)
        server: uvicorn.Server = Server(uvicorn_config(settings))
    else:
        app = naive_app() if args.kind == "naive" else rawsink_app(args.data_dir)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **UVICORN_WS))  # type: ignore[arg-type]
    print(f"PORT {port}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
