"""This machine's LAN addresses, for the URLs people are told to open (and the QR code)."""

from __future__ import annotations

import ipaddress
import socket

import ifaddr


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


def room_urls(host: str, port: int) -> list[str]:
    """The addresses this host answers on, as URLs, best first."""
    if host in ("0.0.0.0", "::", ""):
        hosts = lan_addresses() or ["127.0.0.1"]
    else:
        hosts = [host]
    return [f"http://{h if ':' not in h else f'[{h}]'}:{port}/" for h in hosts]


def machine_name() -> str:
    return socket.gethostname() or "this computer"
