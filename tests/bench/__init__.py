"""Benchmarks for LAN Chat, run with ``make bench`` (``python -m tests.bench``).

Every number is measured beside a baseline in the same run: the fan-out against a naive FastAPI
loop and a bare ``websockets.broadcast()`` server, uploads against a raw request body streamed to
disk, downloads against raw loopback TCP. Hosts and load clients are separate processes on
127.0.0.1 only; every loop is bounded in count and in time.
"""
