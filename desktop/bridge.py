"""The JS bridge: the few things the page cannot do itself, and nothing a remote page could abuse.

Pages of other hosts load in the same window and see the same ``window.pywebview.api``, so every
method here is safe to call from any page: no file system, no shell, no arbitrary URL schemes.
Methods that change this machine (``host_room``, ``set_prefs``) act only when the window shows
this machine's own server.

pywebview lists a js_api object's public members with ``dir()``, but it *dispatches* a call by
walking ``getattr`` along the dotted name the page sends, without filtering underscores: a page
can ask for ``"_state.x"`` or ``"get_prefs.__globals__.update"``. So the object handed to
pywebview is a :class:`JsApi`, which answers ``getattr`` for the exposed names only, and returns
functions whose globals are an empty private dict, so walking their attributes reaches nothing.

Methods never raise to the page (pywebview would send it a Python traceback); failures come back
as ``{"error": "..."}``.

In the window, calls do not reach these methods through pywebview's own dispatcher but through
desktop/dispatch.py (see there why), which records the address of the page that made each call
when it arrives: "own page" means the page that asked, not whatever the window shows by the time
the call runs. Hosting also needs the person at the screen: ``host_room`` asks a native dialog
(``confirm``) that no page can answer, and without one it refuses.
"""

from __future__ import annotations

import logging
import threading
import time
import types
import webbrowser
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Protocol
from urllib.parse import urlsplit

from server.settings import default_room_name

from .dispatch import RateLimiter, Refusals, origin_of
from .notify import send_notification
from .prefs import MAX_NAME_CHARS, MAX_ROOM_CHARS, PrefsError, PrefsStore, clean_text
from .servers import EmbeddedServer, HostingError

MAX_PASSWORD_CHARS = 128

log = logging.getLogger(__name__)

APP_TITLE = "LAN Chat"
EXPOSED: frozenset[str] = frozenset(
    {"get_prefs", "set_prefs", "host_room", "set_unread", "notify", "open_external", "lobby_url",
     "hosting_state", "stop_hosting", "take_refusal", "stand_by_with"})
MAX_URL_CHARS = 2048
MAX_NOTIFY_TITLE = 100
MAX_NOTIFY_BODY = 300
NOTIFY_MIN_INTERVAL = 2.0  # seconds: a burst of messages raises one notification, not fifty
OPENS_PER_SECOND = 0.5  # links opened in the system browser, per page origin (a few at once)
OPEN_BURST = 3.0
PASSWORDS_PER_SECOND = 0.2  # stand_by_with restarts the standby: a page may not churn it
PASSWORD_BURST = 2.0
OWN_HOSTS = frozenset({"127.0.0.1", "localhost"})

# The address of the page whose call is running on this thread (set by Bridge.call_from).
_CALLER: ContextVar[str | None] = ContextVar("lanchat_bridge_caller", default=None)

Confirm = Callable[[str, bool], bool]
"""Asks the person whether to host room ``name`` (with a password or not); True if they agree."""


class WindowLike(Protocol):
    """The part of ``webview.Window`` the bridge uses (a Protocol, so tests can pass their own)."""

    def get_current_url(self) -> str | None: ...

    def set_title(self, title: str) -> None: ...


def window_title(room: str | None, unread: int) -> str:
    """ "LAN Chat — <room>", with "(<n>) " in front while there are unread messages."""
    base = f"{APP_TITLE} — {room}" if room else APP_TITLE
    return f"({unread}) {base}" if unread > 0 else base


def safe_external_url(url: object) -> str | None:
    """``url`` if it is a plain http(s) address fit to hand to the system browser, else None."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        return None
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


class Bridge:
    """What the page may ask of the desktop app. Wrap it in :class:`JsApi` before exposing it."""

    def __init__(self, server: EmbeddedServer, prefs: PrefsStore,
                 notifier: Callable[[str, str], bool] | None = None,
                 opener: Callable[[str], bool] | None = None,
                 confirm: Confirm | None = None,
                 prefs_changed: Callable[[], None] | None = None,
                 room_password: Callable[[str, str], None] | None = None) -> None:
        self._server = server
        self._prefs_changed = prefs_changed  # the standby follows the ``standby`` preference
        self._room_password = room_password  # (page URL, password): for the room's standby
        self._confirm = confirm
        self._confirming = False
        self._prefs = prefs
        self._notifier = notifier or send_notification
        self._opener = opener or open_in_browser
        self._window: WindowLike | None = None
        self._lock = threading.Lock()
        self._unread = 0
        self._page_room: str | None = None
        self._last_notify = 0.0
        self._opens = RateLimiter(OPENS_PER_SECOND, OPEN_BURST)
        self._passwords = RateLimiter(PASSWORDS_PER_SECOND, PASSWORD_BURST)
        self._refusals = Refusals()  # a page's flood of links must not flood the log
        self._refusal: str | None = None  # why the window last refused a room's certificate

    def attach(self, window: WindowLike) -> None:
        """The window exists now (it needs this bridge to be created, hence two steps)."""
        self._window = window

    def set_confirm(self, confirm: Confirm) -> None:
        """How to ask the person before hosting (the dialog needs the GUI, created later)."""
        self._confirm = confirm

    def call_from(self, page_url: str, name: str, args: list[Any]) -> Any:
        """Run exposed method ``name`` for the page at ``page_url`` (the address it had when
        the call arrived): the own-page checks look at that page, not at the window now."""
        if name not in EXPOSED:
            raise ValueError(f"{name} is not exposed")
        token = _CALLER.set(page_url)
        try:
            return getattr(self, name)(*args)
        finally:
            _CALLER.reset(token)

    # Exposed to the page ------------------------------------------------------------------

    def get_prefs(self) -> dict[str, Any]:
        """The remembered nickname, last room and standby choice (any page may read them: they
        are carried over to the hosts the user joins)."""
        return self._prefs.load().public()

    def set_prefs(self, changes: object) -> dict[str, Any]:
        """Remember ``{name, last_room, standby}`` (any key may be left out). Own pages only:
        a room's page must not switch this app's standing by on or off."""
        if not self._on_own_page():
            return {"error": "only this app's own pages may change its preferences"}
        if not isinstance(changes, Mapping):
            return {"error": "preferences must be an object"}
        entry = f"{self._server.origin}/api/admin/enter"
        last = changes.get("last_room")
        if isinstance(last, str) and last.startswith(entry):
            # The address host_room gave carries the room's admin key: remember the room
            # itself (what the room page compares with), and keep the key off the disk.
            changes = {**changes, "last_room": f"{self._server.origin}/"}
        try:
            saved = self._prefs.update(changes).public()
        except PrefsError as exc:
            return {"error": str(exc)}
        except OSError as exc:
            log.warning("could not save preferences: %s", exc)
            return {"error": "could not save preferences to the config folder"}
        if "standby" in changes and self._prefs_changed is not None:
            self._prefs_changed()
        return {"prefs": saved}

    def host_room(self, request: object) -> dict[str, Any]:
        """Host ``{room, name, password?}`` on the LAN from this machine; returns
        ``{"url": ...}`` for the page to load (same origin, now reachable from the LAN): it
        signs this window in as the room's admin on the way in. Own pages only. The password
        stays in memory; the host keeps only its hash."""
        if not self._on_own_page():
            return {"error": "only this app's own pages may host a room"}
        if not isinstance(request, Mapping):
            return {"error": "host_room needs {room, name}"}
        try:
            room = clean_text(request.get("room", ""), "room", MAX_ROOM_CHARS)
            name = clean_text(request.get("name", ""), "name", MAX_NAME_CHARS)
            password = request.get("password") or None
            if password is not None and (not isinstance(password, str)
                                         or len(password) > MAX_PASSWORD_CHARS):
                raise PrefsError("password", f"text of at most {MAX_PASSWORD_CHARS} characters")
        except PrefsError as exc:
            return {"error": str(exc)}
        room = room or default_room_name()
        refusal = self._ask_person(room, password is not None)
        if refusal is not None:
            return {"error": refusal}
        try:
            self._server.host(room, password, name or None)
        except HostingError as exc:
            return {"error": exc.detail}
        url = f"{self._server.origin}/"
        try:  # remembering matters less than hosting: a failure here is only logged
            self._prefs.update({"last_room": url, **({"name": name} if name else {})})
        except (OSError, PrefsError) as exc:
            log.warning("could not save preferences: %s", exc)
        with self._lock:
            self._unread = 0
            self._page_room = room
        self._apply_title()
        return {"url": self._server.admin_url, "room": room}

    def _ask_person(self, room: str, with_password: bool) -> str | None:
        """None if the person agreed to host ``room``, else why not (one question at a time)."""
        with self._lock:
            if self._confirm is None:
                return "hosting needs the desktop window to ask you first"
            if self._confirming:
                return "the app is already asking you whether to host a room"
            self._confirming = True
            confirm = self._confirm
        try:
            agreed = confirm(room, with_password)
        except Exception:  # no dialog means no hosting, never a crash
            log.exception("could not ask whether to host")
            agreed = False
        finally:
            with self._lock:
                self._confirming = False
        if not agreed:
            log.info("hosting %r was not confirmed", room)
            return "you did not confirm hosting the room"
        return None

    def set_unread(self, count: object, room: object = None) -> None:
        """Show ``count`` unread messages in the window title; ``room`` names the room shown
        (optional: this host's own room is known)."""
        if isinstance(count, bool) or not isinstance(count, (int, float)):
            return
        unread = max(0, min(int(count), 99_999))
        shown: str | None = None
        if isinstance(room, str):
            try:
                shown = clean_text(room, "room", MAX_ROOM_CHARS) or None
            except PrefsError:
                shown = None
        with self._lock:
            self._unread = unread
            if shown is not None:
                self._page_room = shown
        self._apply_title()

    def notify(self, title: object, body: object = "") -> bool:
        """Raise a desktop notification where the platform has one; never raises."""
        try:
            text_title = str(title)[:MAX_NOTIFY_TITLE] if title is not None else APP_TITLE
            text_body = str(body)[:MAX_NOTIFY_BODY] if body is not None else ""
            now = time.monotonic()
            with self._lock:
                if now - self._last_notify < NOTIFY_MIN_INTERVAL:
                    return False
                self._last_notify = now
            return self._notifier(text_title, text_body)
        except Exception:  # a notification is never worth an error
            log.exception("notification failed")
            return False

    def open_external(self, url: object) -> bool:
        """Open an http(s) link in the system browser; anything else is refused."""
        origin = origin_of(self._caller_url())
        safe = safe_external_url(url)
        if safe is None:
            self._refusals.refuse("link is not http(s)", origin)
            return False
        if not self._opens.allow(origin):
            self._refusals.refuse("too many links", origin)
            return False
        try:
            return self._opener(safe)
        except Exception:  # no browser is not the page's problem
            log.exception("could not open a link in the browser")
            return False

    def lobby_url(self) -> str:
        """Where the lobby is: the way back from a remote host's room."""
        return f"{self._server.origin}/#lobby"

    def hosting_state(self) -> dict[str, Any]:
        """``{"hosting": bool, "room"?, "url"?}``: what this machine hosts, for the lobby's
        "You are hosting" card. Own pages only (a remote page learns nothing here)."""
        if not self._on_own_page() or not self._server.hosting:
            return {"hosting": False}
        return {"hosting": True, "room": self._server.room, "url": f"{self._server.origin}/"}

    def stop_hosting(self) -> dict[str, Any]:
        """Close the hosted room (its people are told it closed) and go back to serving the
        lobby on loopback only. Own pages only."""
        if not self._on_own_page():
            return {"error": "only this app's own pages may stop hosting"}
        self._server.stop_hosting()
        with self._lock:
            self._page_room = None
        self._apply_title()
        return {"hosting": False, "url": self.lobby_url()}

    def take_refusal(self) -> dict[str, Any]:
        """``{"text": ...}``: why the window just refused to open a room (its certificate did
        not match), once, for the lobby to show; ``{}`` when there is nothing to say. Own
        pages only: a remote page must not learn, nor fake, what the app refused."""
        if not self._on_own_page():
            return {}
        with self._lock:
            text, self._refusal = self._refusal, None
        return {"text": text} if text else {}

    def stand_by_with(self, password: object) -> bool:
        """The room password the person just entered in the remote room the window shows: this
        app's standby for that room needs it too (its host asks standbys what it asks people).
        Only for the calling page's own room, which learns nothing it did not know; kept in
        memory, never written. False when refused (this app's own pages need none)."""
        if self._room_password is None or self._on_own_page():
            return False
        if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_CHARS:
            return False
        page = self._caller_url()
        if not self._passwords.allow(origin_of(page)):
            self._refusals.refuse("too many room passwords", origin_of(page))
            return False
        self._room_password(page, password)
        return True

    # Inside the app -----------------------------------------------------------------------

    def set_refusal(self, text: str) -> None:
        """Keep the words of a refusal for the lobby (desktop/qtbridge.py, on the GUI thread)."""
        with self._lock:
            self._refusal = text[:2000] or None

    def owns(self, url: str) -> bool:
        """``url`` is a page of this machine's own server."""
        return is_own_url(url, self._server.port)

    def page_changed(self) -> None:
        """A new page loaded: reset the unread count and name the room if it is ours."""
        with self._lock:
            self._unread = 0
            self._page_room = None
        self._apply_title()

    def title(self) -> str:
        """The title the window should have now."""
        room = self._page_room
        if room is None and self._server.hosting and self._on_own_page():
            room = self._server.room
        return window_title(room, self._unread)

    def _apply_title(self) -> None:
        if self._window is not None:
            try:
                self._window.set_title(self.title())
            except Exception:  # the window may be closing
                log.debug("could not set the window title", exc_info=True)

    def _caller_url(self) -> str:
        """The calling page's address (else the window's; '' when unknown)."""
        caller = _CALLER.get()
        if caller is not None:
            return caller
        if self._window is None:
            return ""
        try:
            return self._window.get_current_url() or ""
        except Exception:  # noqa: BLE001 - closing window: treat as foreign
            return ""

    def _on_own_page(self) -> bool:
        """True when the calling page (else the window's page) is of this machine's server."""
        return is_own_url(self._caller_url(), self._server.port)


def is_own_url(url: str, port: int) -> bool:
    """``url`` is served by this machine's server on ``port`` (loopback, plain http)."""
    try:
        parts = urlsplit(url)
        return (parts.scheme == "http" and (parts.hostname or "") in OWN_HOSTS
                and parts.port == port)
    except ValueError:
        return False


def _make_forwarder(target: Callable[..., Any]) -> Callable[..., Any]:
    def forward(*args: Any) -> Any:
        return target(*args)
    return forward


_FORWARD_CODE = _make_forwarder(print).__code__


def sealed(name: str, target: Callable[..., Any]) -> Callable[..., Any]:
    """A real function calling ``target`` whose globals are a fresh, empty dict.

    pywebview only lists plain functions and methods, so this must be one; a bound method would
    lead a page to ``__func__.__globals__`` (this module) and from there to anything.
    """
    cell = types.CellType(target)
    fn = types.FunctionType(_FORWARD_CODE, {"__builtins__": {}}, name, None, (cell,))
    fn.__doc__ = getattr(target, "__doc__", None)
    return fn


class JsApi:
    """The js_api object handed to pywebview: the exposed names, and no other attribute."""

    __slots__ = ("_JsApi__calls",)

    def __init__(self, bridge: Bridge) -> None:
        calls = {name: sealed(name, getattr(bridge, name)) for name in EXPOSED}
        object.__setattr__(self, "_JsApi__calls", calls)

    def __getattribute__(self, name: str) -> Any:
        if name in EXPOSED:
            calls: dict[str, Callable[..., Any]] = object.__getattribute__(self, "_JsApi__calls")
            return calls[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        return sorted(EXPOSED)


_BROWSER_LOCK = threading.Lock()


def open_in_browser(url: str) -> bool:
    """The system browser, in a new tab where possible.

    One at a time: ``webbrowser`` fills its list of browsers on first use without holding
    callers back, so a second caller at that moment finds the list empty and opens nothing.
    """
    with _BROWSER_LOCK:
        return bool(webbrowser.open(url, new=2))
