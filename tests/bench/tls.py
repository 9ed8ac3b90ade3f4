"""What TLS costs a host: the handshake, and a 1 GB download, with and without TLS.

Two hosts (``python -m server``) on 127.0.0.2, one serving TLS with a self-signed certificate
(as every LAN host does by default), one with ``--no-tls``. Each gets the same file, uploaded
once as a raw body; then:

- handshake: fresh connections, one at a time: TCP connect + TLS handshake (ECDSA P-256), and a
  whole ``GET /api/health`` on a fresh connection, with and without TLS (median and p95);
- download: ``curl`` fetches the file ``--runs`` times from each host into /dev/null
  (median MB/s; ``-k`` for the self-signed certificate). Client and host share the machine's
  cores, so both ends' encryption is in the number.

- memory: ``--clients`` WebSockets joined at once (``ws://`` or ``wss://``), the host's RSS
  growth per connection.

``python -m tests.bench.tls [--file-mb 1000] [--runs 3] [--handshakes 200] [--clients 1000]``:
prints, asserts nothing. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server.tls import make_self_signed

from .common import Child, cpu_seconds, percentile, python

ADDRESS = "127.0.0.2"


def start_host(data: Path, *extra: str) -> tuple[Child, int]:
    many = ["max_open_connections_per_address=20000", "max_connections_per_address=20000",
            "join_burst_per_address=100000", "joins_per_second_per_address=10000",
            "max_total_upload_bytes=" + str(10**12)]
    child = Child([python(), "-m", "server", "--host", ADDRESS, "--port", "0", "--data-dir",
                   str(data), "--no-discovery", "--room", "bench", "--log-level", "warning",
                   "--max-upload-mb", "100000", *[a for m in many for a in ("--set", m)],
                   *extra])
    line = child.read_line("LAN Chat is serving on ", timeout=60)
    port = int(line.rstrip("/").rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while True:  # the line comes before uvicorn listens: wait until it answers
        try:
            socket.create_connection((ADDRESS, port), timeout=1).close()
            return child, port
        except OSError:
            if time.monotonic() > deadline:
                child.stop()
                raise
            time.sleep(0.05)


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def handshakes(port: int, count: int, tls: bool) -> dict[str, float]:
    """Milliseconds for connect(+handshake), and for a whole health request, fresh each time."""
    context = client_context()
    connects: list[float] = []
    requests: list[float] = []
    for _ in range(count):
        t0 = time.perf_counter()
        raw = socket.create_connection((ADDRESS, port), timeout=10)
        sock: socket.socket = context.wrap_socket(raw) if tls else raw
        t1 = time.perf_counter()
        sock.sendall(f"GET /api/health HTTP/1.0\r\nHost: {ADDRESS}\r\n\r\n".encode())
        while sock.recv(65536):
            pass
        t2 = time.perf_counter()
        sock.close()
        connects.append((t1 - t0) * 1000)
        requests.append((t2 - t0) * 1000)
    connects.sort()
    requests.sort()
    return {"connect_ms_median": percentile(connects, 50),
            "connect_ms_p95": percentile(connects, 95),
            "request_ms_median": percentile(requests, 50),
            "request_ms_p95": percentile(requests, 95)}


def memory_per_client(port: int, tls: bool, clients: int, host: Child) -> float:
    """KiB of host RSS per joined WebSocket, ``clients`` of them open at once."""
    import asyncio
    import uuid

    import websockets

    async def go() -> float:
        url = f"{'wss' if tls else 'ws'}://{ADDRESS}:{port}/ws"
        context = client_context() if tls else None
        base = host.ps.memory_info().rss
        sockets = []
        try:
            for i in range(clients):
                ws = await websockets.connect(url, ssl=context, max_queue=4)
                await ws.send(json.dumps({"type": "hello", "name": f"m{i}", "since": None,
                                          "client_id": str(uuid.uuid4())}))
                sockets.append(ws)
            for ws in sockets:
                while json.loads(await ws.recv())["type"] != "welcome":
                    pass
            return (host.ps.memory_info().rss - base) / clients / 1024
        finally:
            for ws in sockets:
                await ws.close()

    return asyncio.run(go())


def curl(args: list[str]) -> str:
    return subprocess.run(["curl", "-sS", "--noproxy", "*", *args], check=True,
                          capture_output=True, text=True, timeout=600).stdout


def upload(base: str, path: Path) -> tuple[str, float]:
    t0 = time.perf_counter()
    out = curl(["-k", "-X", "POST", "-T", str(path), "-H",
                "content-type: application/octet-stream", f"{base}/api/files?name=big.bin"])
    return json.loads(out)["id"], time.perf_counter() - t0


def download(url: str, size: int, host: Child) -> tuple[float, float, float]:
    """MB/s, and CPU seconds per GB of the host and of curl: CPU time is what the load of
    other work on a shared machine changes least."""
    host_cpu, client = cpu_seconds(host.ps), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    got = int(curl(["-k", "-o", "/dev/null", "-w", "%{size_download}", url]))
    elapsed = time.perf_counter() - t0
    assert got == size, f"downloaded {got} of {size} bytes"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime + after.ru_stime) - (client.ru_utime + client.ru_stime)
    gb = size / 1e9
    return size / elapsed / 1e6, (cpu_seconds(host.ps) - host_cpu) / gb, client_cpu / gb


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.tls", description=__doc__)
    p.add_argument("--file-mb", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--handshakes", type=int, default=200)
    p.add_argument("--clients", type=int, default=1000)
    args = p.parse_args(argv)
    if shutil.which("curl") is None:
        print("curl is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lanchat-tls-bench-") as tmp_name:
        tmp = Path(tmp_name)
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        make_self_signed(cert, key)
        big = tmp / "big.bin"
        size = args.file_mb * 1_000_000
        with big.open("wb") as f:
            block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
            for _ in range(size // len(block)):
                f.write(block)
            f.write(block[:size % len(block)])
        results: dict[str, dict[str, float]] = {}
        for label, extra in (("plain", ["--no-tls"]),
                             ("tls", ["--set", f"tls_cert_file={cert}",
                                      "--set", f"tls_key_file={key}"])):
            child, port = start_host(tmp / label, *extra)
            try:
                scheme = "https" if label == "tls" else "http"
                base = f"{scheme}://{ADDRESS}:{port}"
                row = handshakes(port, args.handshakes, label == "tls")
                row["kib_per_client"] = memory_per_client(port, label == "tls", args.clients,
                                                          child)
                file_id, up = upload(base, big)
                row["upload_mb_s"] = size / up / 1e6
                runs = [download(f"{base}/api/files/{file_id}", size, child)
                        for _ in range(args.runs)]
                speeds = sorted(r[0] for r in runs)
                row["download_mb_s_median"] = speeds[len(speeds) // 2]
                row["download_mb_s_runs"] = speeds  # type: ignore[assignment]
                row["host_cpu_s_per_gb"] = sorted(r[1] for r in runs)[len(runs) // 2]
                row["curl_cpu_s_per_gb"] = sorted(r[2] for r in runs)[len(runs) // 2]
                results[label] = row
            finally:
                child.stop()
                shutil.rmtree(tmp / label, ignore_errors=True)
    print(f"\nTLS cost on {ADDRESS} ({args.file_mb} MB file, {args.runs} downloads each, "
          f"{args.handshakes} fresh connections each)")
    for label, row in results.items():
        print(f"  {label:5}  connect {row['connect_ms_median']:.2f} ms (p95 "
              f"{row['connect_ms_p95']:.2f}), health request {row['request_ms_median']:.2f} ms "
              f"(p95 {row['request_ms_p95']:.2f}), upload {row['upload_mb_s']:.0f} MB/s, "
              f"download {row['download_mb_s_median']:.0f} MB/s "
              f"(runs: {', '.join(f'{s:.0f}' for s in row['download_mb_s_runs'])}), CPU per GB: "
              f"host {row['host_cpu_s_per_gb']:.2f} s, curl {row['curl_cpu_s_per_gb']:.2f} s; "
              f"{row['kib_per_client']:.0f} KiB of host memory per WebSocket "
              f"({args.clients} open)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
