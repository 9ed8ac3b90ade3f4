"""Who is removed from the room, until when, and by what they are recognised.

A removed person is known by their user id (from their client_id) and by every browser id the
host's cookie gave the browsers they used: choosing a new name, or clearing the page's storage
(a new client_id), in the same browser still meets the removal. Removals are stored as ``remove``
events, so a host restarted within the time still refuses the person's user id.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Removals:
    """Active removals; expired ones are forgotten when looked at."""

    def __init__(self) -> None:
        self._users: dict[str, float] = {}  # user id -> until (time.time())
        self._browsers: dict[str, float] = {}  # browser id -> until
        self._seen: dict[str, set[str]] = {}  # user id -> browser ids it connected from

    def saw(self, user_id: str, browser: str | None) -> None:
        """``user_id`` connected from the browser with cookie ``browser``."""
        if browser is not None:
            seen = self._seen.setdefault(user_id, set())
            if len(seen) < 16:
                seen.add(browser)

    def remove(self, user_id: str, until: float) -> None:
        """Refuse ``user_id`` and the browsers it was seen in until ``until``."""
        self._users[user_id] = max(until, self._users.get(user_id, 0.0))
        for browser in self._seen.get(user_id, ()):
            self._browsers[browser] = max(until, self._browsers.get(browser, 0.0))

    def until(self, user_id: str, browser: str | None) -> float | None:
        """When the removal that covers this person or browser ends, or None."""
        now = time.time()
        found = [t for t in (self._users.get(user_id),
                             self._browsers.get(browser) if browser else None)
                 if t is not None and t > now]
        for table in (self._users, self._browsers):
            for key in [k for k, t in table.items() if t <= now]:
                del table[key]
        return max(found) if found else None


def iso(at: float) -> str:
    """``at`` (seconds since the epoch) as the protocol's ISO 8601 UTC time."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def reason(until: float) -> str:
    """The close reason a removed person reads (short: close reasons hold 123 bytes)."""
    return f"removed from the room by its host until {iso(until)[:16].replace('T', ' ')} UTC"
