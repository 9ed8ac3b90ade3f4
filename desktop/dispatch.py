"""Our own dispatcher for the page's bridge calls, in front of pywebview's (which we do not use).

pywebview answers a call by evaluating
``window.pywebview._returnValuesCallbacks["<func_name>"]["<value_id>"](<reply>)`` in whatever
page the window shows when the answer is ready, with ``func_name`` and ``value_id`` exactly as
the page sent them, and it starts a new thread for every call. So a page could put code in
``value_id`` (run in its own page, or, after a navigation, in our lobby where the bridge trusts
it), and a flood of calls made thousands of threads. This module decides, without any toolkit:

- which calls are accepted: the exposed names with the ``value_id`` shape pywebview's own script
  makes (``(Math.random() + "").substring(2)``: digits, rarely with an ``e-NN`` exponent), with
  small parameters; every other name, pywebview's internals included, is refused;
- how fast: a token bucket per page origin, and a small fixed pool of worker threads behind a
  bounded queue; what does not fit is dropped and the refusal logged (a few lines, then counts);
- where the answer goes: each call carries the page-load generation it came from, and the reply
  is evaluated only if the window still shows that very page (checked on the GUI thread, where
  navigations are seen, right before the script runs). The reply script is built from values
  this app made only: the name from our own list, the id re-checked and JSON-encoded, the result
  JSON-encoded twice (a JS string holding JSON, as pywebview's script expects).

desktop/qtbridge.py connects this to Qt's web channel.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# pywebview's page script makes ids with (Math.random() + "").substring(2): "8046271153429081",
# or for a tiny number such as 1.2e-7, "2e-7". Nothing else is an id we will answer.
VALUE_ID = re.compile(r"[0-9]{1,24}(?:e-[0-9]{1,3})?")
MAX_PARAM_CHARS = 64 * 1024  # our largest legitimate call (host_room) is well under 1 KiB
MAX_ARGS = 4

CALLS_PER_SECOND = 20.0  # per page origin: a room calls set_unread per message at most
CALL_BURST = 60.0
WORKERS = 2  # one may sit in the hosting confirmation; the other keeps the page answered
QUEUE_SIZE = 32


class RateLimiter:
    """A token bucket per key (a page origin); remembers at most ``max_keys`` keys."""

    def __init__(self, rate: float, burst: float, max_keys: int = 64,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token for ``key`` if there is one."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - then) * self._rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return allowed


class Refusals:
    """Logs refusals without letting a flood flood the log: the first few of each reason in
    full, then one summary line with counts every ``every`` seconds."""

    def __init__(self, every: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = RateLimiter(rate=1.0 / every, burst=3.0, clock=clock)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.total = 0

    def refuse(self, reason: str, origin: str, detail: str = "") -> None:
        with self._lock:
            self.total += 1
            self._counts[reason] = self._counts.get(reason, 0) + 1
            if not self._limit.allow(reason):
                return
            counts, self._counts = self._counts, {}
        log.warning("refused (%s) from %s%s; refusals since the previous such "
                    "line, this one included: %s", reason, origin or "no page",
                    f": {detail[:120]!r}" if detail else "", counts)


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a page address ('' when it has none)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
    except ValueError:
        return ""


@dataclass(frozen=True)
class Call:
    """One accepted bridge call, with where it came from."""

    name: str
    args: list[Any]
    value_id: str
    generation: int
    page_url: str


def parse_call(func_name: object, param: object, value_id: object,
               exposed: Collection[str]) -> tuple[str, list[Any], str] | str:
    """The call's (name, args, id) if it is one we answer, else the reason it is refused."""
    if not isinstance(func_name, str) or func_name not in exposed:
        return "unknown function name"
    if not isinstance(value_id, str) or VALUE_ID.fullmatch(value_id) is None:
        return "malformed value_id"
    if param is None:
        return func_name, [], value_id
    if not isinstance(param, str) or len(param) > MAX_PARAM_CHARS:
        return "parameters too large"
    try:
        args = json.loads(param)
    except ValueError:
        return "parameters are not JSON"
    if not isinstance(args, list) or len(args) > MAX_ARGS:
        return "parameters are not a short list"
    return func_name, args, value_id


def reply_script(name: str, value_id: str, result: object, error: str | None = None) -> str:
    """The script that hands ``result`` (or ``error``) to the page's waiting promise.

    Every part is JSON-encoded here (``ensure_ascii``, so no line separators either); ``name``
    and ``value_id`` have passed :func:`parse_call`, this is the second line of defence.
    """
    if VALUE_ID.fullmatch(value_id) is None:
        raise ValueError("refusing to answer a malformed value_id")
    if error is None:
        payload = json.dumps(result, ensure_ascii=True, default=str)
        answer = f"{{value: {json.dumps(payload)}}}"
    else:
        payload = json.dumps({"message": error, "name": "Error"}, ensure_ascii=True)
        answer = f"{{isError: true, value: {json.dumps(payload)}}}"
    callbacks = f"window.pywebview._returnValuesCallbacks[{json.dumps(name)}]"
    return (f"(function () {{ var box = window.pywebview && {callbacks}; "
            f"var answer = box && box[{json.dumps(value_id)}]; "
            f"if (typeof answer === 'function') answer({answer}); }})();")


@dataclass
class Pages:
    """Which page the window shows: a generation bumped when a load starts, open once loaded.

    Calls that arrive while a load is under way come from the page being replaced (the new one
    has no bridge before its load finishes): they are refused.
    """

    generation: int = 0
    open: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load_started(self) -> None:
        with self._lock:
            self.generation += 1
            self.open = False

    def load_finished(self) -> None:
        with self._lock:
            self.open = True

    def current(self, generation: int) -> bool:
        """The window still shows the page of ``generation``."""
        with self._lock:
            return self.open and generation == self.generation


class Worker:
    """``threads`` daemon threads working through a queue of at most ``size`` jobs."""

    def __init__(self, threads: int = WORKERS, size: int = QUEUE_SIZE,
                 name: str = "lanchat-bridge") -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=size)
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue ``job``; False (and nothing queued) when the queue is full."""
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            return False
        return True

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # one failed call must not stop the worker
                log.exception("bridge call failed")

    def stop(self, timeout: float = 1.0) -> None:
        for _ in self._threads:
            try:
                self._jobs.put(None, timeout=timeout)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(timeout)


class Dispatcher:
    """Accepts, limits and runs the page's calls; toolkit-free, so it is tested on its own.

    ``run(call)`` does the work on a worker thread and returns the result; ``deliver(generation,
    script)`` must evaluate ``script`` on the GUI thread if ``pages.current(generation)``.
    """

    def __init__(self, exposed: Collection[str], run: Callable[[Call], object],
                 deliver: Callable[[int, str], None], pages: Pages | None = None,
                 limiter: RateLimiter | None = None, worker: Worker | None = None) -> None:
        self.exposed = frozenset(exposed)
        self.pages = pages or Pages()
        self.refusals = Refusals()
        self._run = run
        self._deliver = deliver
        self._limiter = limiter or RateLimiter(CALLS_PER_SECOND, CALL_BURST)
        self._worker = worker or Worker()

    def receive(self, func_name: object, param: object, value_id: object,
                page_url: str) -> bool:
        """A call from the page (on the GUI thread): queue it, or refuse it. Never raises."""
        origin = origin_of(page_url)
        generation = self.pages.generation
        if not self.pages.current(generation):
            self.refusals.refuse("the page is being replaced", origin)
            return False
        parsed = parse_call(func_name, param, value_id, self.exposed)
        if isinstance(parsed, str):
            self.refusals.refuse(parsed, origin, f"{func_name!s} / {value_id!s}")
            return False
        if not self._limiter.allow(origin):
            self.refusals.refuse("too many calls", origin)
            return False
        call = Call(parsed[0], parsed[1], parsed[2], generation, page_url)
        if not self._worker.submit(lambda: self._answer(call)):
            self.refusals.refuse("too many calls waiting", origin)
            return False
        return True

    def _answer(self, call: Call) -> None:
        if not self.pages.current(call.generation):
            return  # the page that asked is gone: nobody to answer, nothing to run for it
        try:
            script = reply_script(call.name, call.value_id, self._run(call))
        except TypeError:
            script = reply_script(call.name, call.value_id, None,
                                  error=f"{call.name}: wrong arguments")
        self._deliver(call.generation, script)

    def stop(self) -> None:
        self._worker.stop()


def guard_pywebview_dispatch(exposed: Collection[str], rate: float = CALLS_PER_SECOND,
                             burst: float = CALL_BURST) -> None:
    """For backends other than Qt: wrap pywebview's ``js_bridge_call`` so that only exposed
    names with a well-formed id, at a bounded rate (so a bounded number of threads), reach it.

    Call before ``webview.start``: the backend module, imported then, binds the wrapped one.
    pywebview's internals are refused as on Qt; there is no per-page generation here.
    """
    import webview.util as pywebview_util

    original = getattr(pywebview_util, "_lanchat_original_js_bridge_call",
                       pywebview_util.js_bridge_call)
    limiter = RateLimiter(rate, burst)
    refusals = Refusals()
    names = frozenset(exposed)

    def guarded(window: Any, func_name: Any, param: Any, value_id: Any) -> None:
        if not isinstance(func_name, str) or func_name not in names:
            refusals.refuse("unknown function name", "", str(func_name))
        elif not isinstance(value_id, str) or VALUE_ID.fullmatch(value_id) is None:
            refusals.refuse("malformed value_id", "", str(value_id))
        elif not isinstance(param, list) or len(param) > MAX_ARGS:
            refusals.refuse("parameters are not a short list", "")
        elif len(json.dumps(param, default=str)) > MAX_PARAM_CHARS:
            refusals.refuse("parameters too large", "")
        elif not limiter.allow("page"):
            refusals.refuse("too many calls", "")
        else:
            original(window, func_name, param, value_id)

    pywebview_util._lanchat_original_js_bridge_call = original  # type: ignore[attr-defined]
    pywebview_util.js_bridge_call = guarded
