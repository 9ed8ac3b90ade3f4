"""Fan-out's fast lane: one WebSocket frame built per event, written to every socket as is.

Sending through ASGI costs each recipient a message dict, Starlette's checks, uvicorn's ``send``
and websockets' framing: about 20 µs per delivery here. When the connection is served by uvicorn's
websockets-sansio protocol, with no extension negotiated, the hub can instead frame an event once
and ``transport.write`` the same bytes to every recipient. Anything else (another server, a
compression extension, a closing connection) keeps the ordinary ASGI path, which stays correct.

Flow control moves with it: uvicorn's ``send`` waits while the socket's buffer is above its high
water mark, and a direct write does not, so :class:`DirectWriter` reports the bytes still buffered
and the hub closes a connection that lets them pile up (it stopped reading).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from websockets.frames import Frame, Opcode

log = logging.getLogger(__name__)

_PROTOCOL_CLASS = "WebSocketsSansIOProtocol"


def text_frame(payload: str) -> bytes:
    """An unmasked, unfragmented text frame (a server never masks)."""
    return Frame(Opcode.TEXT, payload.encode()).serialize(mask=False)


class DirectWriter:
    """Writes ready-made frames to one uvicorn WebSocket connection's transport."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def usable(self) -> bool:
        p = self._protocol
        return not (p.close_sent or p.disconnected or p.transport.is_closing())

    def buffered(self) -> int:
        return int(self._protocol.transport.get_write_buffer_size())

    def write(self, frame: bytes) -> None:
        self._protocol.transport.write(frame)

    def abort(self) -> None:
        """Drop the connection and everything buffered for it: a peer that does not read would
        otherwise hold its buffer (and a closing socket) for as long as it stays connected."""
        transport = self._protocol.transport
        if not transport.is_closing() or transport.get_write_buffer_size():
            transport.abort()


def find_direct_writer(asgi_send: Any) -> DirectWriter | None:
    """The fast lane for a connection, given its ASGI ``send``, or None to use ASGI.

    Starlette hands the endpoint uvicorn's bound ``send`` wrapped in a closure or two; follow the
    ``send`` each closure holds until the protocol object appears.
    """
    fn = asgi_send
    for _ in range(6):
        owner = getattr(fn, "__self__", None)
        if owner is not None:
            names = {cls.__name__ for cls in type(owner).__mro__}
            if _PROTOCOL_CLASS not in names or not _plain(owner):
                return None
            return DirectWriter(owner)
        try:
            held = inspect.getclosurevars(fn).nonlocals.get("send")
        except TypeError:
            return None
        if held is None or not callable(held):
            return None
        fn = held
    return None


def _plain(protocol: Any) -> bool:
    """A connection we know how to write to: open, with no extension changing frame bytes."""
    conn = getattr(protocol, "conn", None)
    transport = getattr(protocol, "transport", None)
    return (conn is not None and transport is not None and not getattr(conn, "extensions", None)
            and hasattr(transport, "get_write_buffer_size") and hasattr(protocol, "close_sent")
            and hasattr(protocol, "disconnected"))
