"""Rates: token buckets, and tables of them kept per person or per address across reconnects.

The hub draws on two allowances for every message (the person's and the address's) and two for
every join, so that hanging up after each burst, or making up new client ids, buys nothing.
Tables forget entries whose allowance has refilled, and never hold more than their bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class TokenBucket:
    """``rate`` actions a second on average, up to ``burst`` at once."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def wait(self) -> float:
        """0.0 when an action is allowed now, else the seconds until it is (nothing is spent)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else math.inf

    def spend(self) -> None:
        self.tokens -= 1.0

    def take(self) -> float:
        """0.0 when allowed (and spent), else the seconds to wait before the next action."""
        wait = self.wait()
        if not wait:
            self.spend()
        return wait


class RateTable:
    """Token buckets by key (a person's id, an address) kept across connections, so hanging up
    and reconnecting does not refill them. Bounded: a bucket that has refilled is the same as a
    new one and is forgotten, and past ``max_keys`` the least recently used goes first."""

    def __init__(self, rate: float, burst: int, max_keys: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_keys = max(1, max_keys)
        self._refill_seconds = self.burst / rate if rate > 0 else math.inf
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def bucket(self, key: str) -> TokenBucket:
        found = self._buckets.get(key)
        if found is not None:
            self._buckets.move_to_end(key)
            return found
        self._forget(time.monotonic())
        made = self._buckets[key] = TokenBucket(self.rate, self.burst)
        return made

    def _forget(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            key, oldest = next(iter(buckets.items()))
            if len(buckets) < self.max_keys and now - oldest.stamp < self._refill_seconds:
                return
            del buckets[key]


def allowed(*buckets: TokenBucket) -> float:
    """Spend one action from every bucket if all allow it; else the seconds until they do."""
    wait = max(b.wait() for b in buckets)
    if not wait:
        for b in buckets:
            b.spend()
    return wait
