"""This machine's LAN addresses, for the URLs people are told to open (and the QR code)."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import socket

import ifaddr
import segno


def lan_addresses() -> list[str]:
    """Usable IPv4 addresses of this machine's interfaces, private LAN ranges first."""
    found: list[ipaddress.IPv4Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue
            addr = ipaddress.IPv4Address(ip.ip)
            if addr.is_loopback or addr.is_link_local or addr.is_unspecified:
                continue
            if addr not in found:
                found.append(addr)
    return [str(a) for a in sorted(found, key=lambda a: (not a.is_private, a))]


def room_urls(host: str, port: int, tls: bool = False) -> list[str]:
    """The addresses this host answers on, as URLs, best first (https:// with ``tls``)."""
    if host in ("0.0.0.0", "::", ""):
        hosts = lan_addresses() or ["127.0.0.1"]
    else:
        hosts = [host]
    scheme = "https" if tls else "http"
    return [f"{scheme}://{h if ':' not in h else f'[{h}]'}:{port}/" for h in hosts]


def machine_name() -> str:
    return socket.gethostname() or "this computer"


class QrCodes:
    """SVG QR codes of this host's own room URLs. Drawing one costs the CPU tens of
    milliseconds, so each is drawn once, on a worker thread, however many ask at once."""

    MAX_KEPT = 16  # a machine has a few addresses; more means they changed, so start over

    def __init__(self) -> None:
        self._drawn: dict[str, asyncio.Future[bytes]] = {}

    async def svg(self, url: str) -> bytes:
        drawing = self._drawn.get(url)
        if drawing is None:
            if len(self._drawn) >= self.MAX_KEPT:
                self._drawn.clear()
            drawing = asyncio.ensure_future(asyncio.to_thread(_draw, url))
            self._drawn[url] = drawing
        try:
            return await asyncio.shield(drawing)
        except Exception:
            self._drawn.pop(url, None)
            raise


def _draw(text: str) -> bytes:
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", scale=6, border=2, xmldecl=False)
    return buf.getvalue()
