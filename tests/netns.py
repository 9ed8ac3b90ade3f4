"""Network namespaces as "computers" on one private LAN, for tests.

``NetnsPair``: two namespaces joined by a veth pair. ``NetnsLan``: three or more namespaces,
each with a veth to a bridge (the LAN's switch) that lives in one more namespace of its own.

Everything is created inside the namespaces (the veth ends are born there, never in this
machine's own namespace), so no address, route or multicast packet touches the real network.
Needs root and iproute2. ``close`` deletes the namespaces, and with them every link.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence

log = logging.getLogger(__name__)

IP_TIMEOUT = 10.0


class NetnsError(Exception):
    """An ``ip`` command failed; ``detail`` is what it said."""

    def __init__(self, command: Sequence[str], detail: str) -> None:
        super().__init__(f"{' '.join(command)}: {detail}")
        self.command = list(command)
        self.detail = detail


def ip_tool() -> str | None:
    """Path of iproute2's ``ip``, or None."""
    return shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), None)


def can_make_namespaces() -> str | None:
    """None if this process may create namespaces, else why not (for a skip message)."""
    if ip_tool() is None:
        return "iproute2's 'ip' is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (run the LAN tests with sudo, or in CI)"
    return None


def run_ip(*args: str) -> None:
    """Run ``ip ARGS``; raise :class:`NetnsError` with what it said when it fails."""
    tool = ip_tool()
    if tool is None:
        raise NetnsError(["ip", *args], "iproute2's 'ip' is not installed")
    command = [tool, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=IP_TIMEOUT,
                          check=False)
    if done.returncode != 0:
        raise NetnsError(command, done.stderr.strip() or f"exit {done.returncode}")


def exec_args(ns: str, *command: str) -> list[str]:
    """argv that runs ``command`` inside namespace ``ns`` (``ip netns exec`` then execs it,
    so the child's PID is the command's own)."""
    return [ip_tool() or "ip", "netns", "exec", ns, *command]


class NetnsPair:
    """Namespaces ``a`` and ``b`` with addresses ``addr_a``/``addr_b`` on one /24 over a veth."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.a = f"lanchat-{tag}-a"
        self.b = f"lanchat-{tag}-b"
        self._veth_a = f"lc{tag}a"  # interface names have at most 15 characters
        self._veth_b = f"lc{tag}b"
        subnet = 10 + secrets.randbelow(240)
        self.addr_a = f"10.231.{subnet}.1"
        self.addr_b = f"10.231.{subnet}.2"
        self._made: list[str] = []

    def _ip(self, *args: str) -> None:
        run_ip(*args)

    def create(self) -> NetnsPair:
        """Make both namespaces, the veth between them, addresses, and bring links up."""
        try:
            for ns in (self.a, self.b):
                self._ip("netns", "add", ns)
                self._made.append(ns)
            self._ip("link", "add", "name", self._veth_a, "netns", self.a, "type", "veth",
                     "peer", "name", self._veth_b, "netns", self.b)
            for ns, dev, addr in ((self.a, self._veth_a, self.addr_a),
                                  (self.b, self._veth_b, self.addr_b)):
                self._ip("-n", ns, "link", "set", "lo", "up")
                self._ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                self._ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.close()
            raise
        log.info("namespaces %s (%s) and %s (%s) joined by a veth", self.a, self.addr_a,
                 self.b, self.addr_b)
        return self

    def set_link(self, ns: str, up: bool) -> None:
        """Bring namespace ``ns``'s end of the veth up or down: the cable pulled or plugged in."""
        dev = self._veth_a if ns == self.a else self._veth_b
        self._ip("-n", ns, "link", "set", dev, "up" if up else "down")

    def renumber_a(self) -> str:
        """Move ``a`` to a second /24 (``b`` joins it too) and drop its first address, as a new
        DHCP lease would; returns ``a``'s new address."""
        subnet = self.addr_a.split(".")[2]
        new_a, new_b = f"10.232.{subnet}.1", f"10.232.{subnet}.2"
        self._ip("-n", self.b, "addr", "add", f"{new_b}/24", "dev", self._veth_b)
        self._ip("-n", self.a, "addr", "add", f"{new_a}/24", "dev", self._veth_a)
        self._ip("-n", self.a, "addr", "del", f"{self.addr_a}/24", "dev", self._veth_a)
        self.addr_a = new_a
        return new_a

    def exec_args(self, ns: str, *command: str) -> list[str]:
        """argv that runs ``command`` inside namespace ``ns`` (``ip netns exec`` then execs it,
        so the child's PID is the command's own)."""
        return exec_args(ns, *command)

    def close(self) -> None:
        """Delete the namespaces this pair made (the veth goes with them). Safe to call twice."""
        while self._made:
            ns = self._made.pop()
            try:
                self._ip("netns", "del", ns)
            except (NetnsError, subprocess.TimeoutExpired) as exc:
                log.warning("could not delete namespace %s: %s", ns, exc)

    def __enter__(self) -> NetnsPair:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.close()


class NetnsLan:
    """``count`` machines (``machines[i]``, address ``addrs[i]``) on one /24 through a bridge.

    The bridge lives in a namespace of its own (the switch), so no machine sees it; each machine
    has one veth whose other end is enslaved to the bridge. Multicast snooping is off, so mDNS
    reaches every machine as it would on a small switch. ``set_link`` pulls one cable.
    """

    def __init__(self, count: int = 3) -> None:
        if count < 2:
            raise ValueError("a LAN of one machine is no LAN")
        tag = secrets.token_hex(3)
        self.switch = f"lanchat-{tag}-sw"
        self.machines = [f"lanchat-{tag}-m{i}" for i in range(count)]
        self._veth = [f"lc{tag}m{i}" for i in range(count)]  # at most 15 characters
        self._ports = [f"lc{tag}p{i}" for i in range(count)]
        subnet = 10 + secrets.randbelow(240)
        self.addrs = [f"10.233.{subnet}.{i + 1}" for i in range(count)]
        self._made: list[str] = []

    def create(self) -> NetnsLan:
        """Make the switch, every machine, their cables and addresses, and bring links up."""
        try:
            for ns in (self.switch, *self.machines):
                run_ip("netns", "add", ns)
                self._made.append(ns)
            run_ip("-n", self.switch, "link", "add", "name", "br0", "type", "bridge",
                   "mcast_snooping", "0")
            run_ip("-n", self.switch, "link", "set", "br0", "up")
            for ns, dev, port, addr in zip(self.machines, self._veth, self._ports, self.addrs,
                                           strict=True):
                run_ip("link", "add", "name", dev, "netns", ns, "type", "veth",
                       "peer", "name", port, "netns", self.switch)
                run_ip("-n", self.switch, "link", "set", port, "master", "br0")
                run_ip("-n", self.switch, "link", "set", port, "up")
                run_ip("-n", ns, "link", "set", "lo", "up")
                run_ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                run_ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.close()
            raise
        log.info("machines %s on one bridge", ", ".join(
            f"{ns} ({addr})" for ns, addr in zip(self.machines, self.addrs, strict=True)))
        return self

    def set_link(self, index: int, up: bool) -> None:
        """Pull (or plug back) machine ``index``'s cable, at the switch's end."""
        run_ip("-n", self.switch, "link", "set", self._ports[index], "up" if up else "down")

    def exec_args(self, ns: str, *command: str) -> list[str]:
        """argv that runs ``command`` inside namespace ``ns``."""
        return exec_args(ns, *command)

    def machine_args(self, index: int, hostname: str, *command: str) -> list[str]:
        """argv that runs ``command`` on machine ``index`` under its own host name.

        Namespaces made by ``ip netns`` share this computer's host name, which LAN Chat puts in
        its zeroconf names; two machines of one LAN have two names, so each command gets a UTS
        namespace of its own named ``hostname`` (``unshare`` and ``sh`` exec in turn, so the
        child's PID is still the command's own)."""
        script = 'hostname "$0" && exec "$@"'
        return exec_args(self.machines[index], shutil.which("unshare") or "unshare", "--uts",
                         "--", "sh", "-c", script, hostname, *command)

    def close(self) -> None:
        """Delete every namespace this LAN made (the cables go with them). Safe to call twice."""
        while self._made:
            ns = self._made.pop()
            try:
                run_ip("netns", "del", ns)
            except (NetnsError, subprocess.TimeoutExpired) as exc:
                log.warning("could not delete namespace %s: %s", ns, exc)

    def __enter__(self) -> NetnsLan:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.close()
