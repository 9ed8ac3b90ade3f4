// The WebSocket to the host: hello on open, keepalive pings, and reconnect with backoff.
// Emits 'state' ({state, retryAt, code, reason, next}), 'frame' (one parsed server frame) and
// 'moved' ({from, to}: the room is served by another host from now on).
//
// The room can outlive its host: the host names its successors (standbys, best first). A host
// that hands the room over says where it went (`moved`, then close 4301): the page goes there at
// once. A host that is lost is tried once more, then each successor in turn, and round again
// with backoff. Another host is accepted only when its welcome names the same room; the page
// stays (no reload) and talks to that host from then on (host-base.js).

import { backoffDelay } from './util.js';
import { CLOSE, ERROR, REFUSALS, retryAfterSeconds } from './codes.js';
import { refusalReason } from './errors.js';
import { t } from './i18n.js';
import { hostBase, setHostBase, originOf, wsUrlAt } from './host-base.js';

const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 8000;
// A host that restarts (or a laptop that wakes up) is usually back within seconds: knock every
// 1-2 s, so the room is back within 2 s of the host answering again. After a long outage knock
// less often; the browser's 'online' event and the page coming to the front still knock at once.
const QUICK_RETRY_CAP_MS = 2000;
const SLOW_RETRY_CAP_MS = 5000;
const QUICK_FOR_MS = 10 * 60 * 1000;
const FULL_RETRY_CAP_MS = 15000; // a full room: give the others room before knocking again
// A host that vanished from the network leaves the socket hanging instead of refusing it.
const OPEN_WITHIN_MS = 5000;
const WELCOME_WITHIN_MS = 15000; // once open, a busy host gets longer to send its welcome
const MAX_FORMER = 4;
const NEXT_HOST_MS = 200; // from one host of a round to the next

export class Connection extends EventTarget {
  /** `hello()` returns the fields of the hello frame, asked fresh on every (re)connect;
   *  `roomId()` the room this page is in (another host must serve the same one). */
  constructor(hello, roomId = () => null) {
    super();
    this.hello = hello;
    this.roomId = roomId;
    this.successors = []; // the host's standbys, best first (origins)
    this.former = []; // standbys the host named before: one may serve the room after a split
    this.plan = []; // hosts still to try, in order, before going round again
    this.target = null; // the host this attempt knocks at
    this.movedTo = null; // where the host said the room went
    this.readingAt = null; // the standby whose read-only copy this page reads, if any
    this.liveAt = hostBase(); // the last host that served this page live
    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.pongTimer = 0;
    this.retryAfterMs = 0;
    this.stopped = true;
    this.openTimer = 0;
    this.downSince = 0;
    this.onOnline = () => this.retryNow();
    this.onVisible = () => { if (!document.hidden) this.retryNow(); };
  }

  start() {
    this.stopped = false;
    this.plan = [];
    window.addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    clearTimeout(this.openTimer);
    this.stopKeepalive();
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.close(CLOSE.NORMAL, 'leaving'); }
    this.setState('idle');
  }

  /** Send a frame when the link is up; false when it is not (the caller keeps it queued).
   *  A standby reading out the room's copy (state 'reading') answers searches only. */
  send(frame) {
    const open = this.state === 'online' || (this.state === 'reading' && frame.type === 'search');
    if (!open || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  retryNow() {
    if (this.stopped || ['online', 'connecting', 'reading'].includes(this.state)) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  /** The host's successors changed (welcome or `successors` event): a list of base URLs. */
  setSuccessors(urls) {
    const home = hostBase();
    const list = [...new Set((Array.isArray(urls) ? urls : []).map(originOf).filter((o) => o && o !== home))];
    // A standby whose link to the host broke leaves the list, and may be the one that takes
    // the room over when the host is lost next: it is still tried, after the listed ones.
    this.former = [...new Set([...this.successors, ...this.former])]
      .filter((o) => !list.includes(o) && o !== home).slice(0, MAX_FORMER);
    this.successors = list;
  }

  /** Hosts the room had before this page was loaded (saved by an earlier page): tried after
   *  the current host and its successors. */
  remember(urls) {
    const home = hostBase();
    this.former = [...new Set([...urls.map(originOf), ...this.former])]
      .filter((o) => o && o !== home).slice(0, MAX_FORMER);
  }

  /** The next host to knock at: the current one first after a loss, then each successor. */
  nextTarget() {
    if (!this.plan.length) this.plan = [hostBase(), ...this.successors, ...this.former];
    return this.plan.shift();
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...extra } }));
  }

  open() {
    clearTimeout(this.retryTimer);
    const target = this.nextTarget();
    this.target = target;
    this.setState('connecting', { next: target !== hostBase() });
    let ws;
    try {
      ws = new WebSocket(wsUrlAt(target));
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    const giveUpAfter = (ms) => {
      clearTimeout(this.openTimer);
      this.openTimer = setTimeout(() => {
        if (this.ws !== ws || this.state === 'online') return;
        ws.onclose = null;
        try { ws.close(); } catch { /* never opened */ }
        this.closed(ws, 0, t('connection.noAnswer'));
      }, ms);
    };
    giveUpAfter(OPEN_WITHIN_MS);
    ws.onopen = () => {
      giveUpAfter(WELCOME_WITHIN_MS);
      ws.send(JSON.stringify({ type: 'hello', ...this.hello() }));
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      clearTimeout(this.pongTimer);
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame.type === 'pong') return;
      if (frame.type === 'error' && frame.code === ERROR.TOO_MANY_JOINS) {
        // Sent just before close 4429: how long the host wants us to wait before the next try.
        this.retryAfterMs = retryAfterSeconds(frame, 0) * 1000;
        return;
      }
      if (frame.type === 'moved') {
        this.heardMoved(frame);
        return;
      }
      if (frame.type === 'welcome') {
        if (!this.accept(ws, target, frame)) return;
        clearTimeout(this.openTimer);
        this.attempt = 0;
        this.downSince = 0;
        // No host is reachable and a standby reads the room's copy out: read and search only,
        // until it sends the page to a host that serves the room again (`moved`).
        this.readingAt = frame.read_only === true ? target : null;
        if (this.readingAt) this.setState('reading', { machine: String(frame.machine ?? '') });
        else this.setState('online');
        this.startKeepalive();
      }
      this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
    };
    ws.onclose = (event) => this.closed(ws, event.code, event.reason);
  }

  /** A `moved` event: the room went to `url` (only when it names this very room). */
  heardMoved(frame) {
    const to = originOf(frame.url);
    const room = this.roomId();
    if (!to || (room && frame.room_id && frame.room_id !== room)) return;
    this.movedTo = to;
    this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
  }

  /** A welcome from `target`: true when it may serve this page (another host must serve the
   *  same room); a move to another host is made here, before anyone sees the welcome. */
  accept(ws, target, frame) {
    if (target !== hostBase()) {
      const room = this.roomId();
      if (room && frame.room_id !== room) {
        ws.onclose = null;
        try { ws.close(CLOSE.NORMAL, 'another room'); } catch { /* already gone */ }
        this.closed(ws, 0, '');
        return false;
      }
      setHostBase(target);
      this.successors = this.successors.filter((o) => o !== target);
      this.former = this.former.filter((o) => o !== target);
    }
    this.plan = [];
    // The room moved when a host other than the last one serves it live; reading a standby's
    // copy meanwhile (and coming back from it) is no move: the banner says where the page reads.
    if (frame.read_only === true) return true;
    const from = this.liveAt;
    this.liveAt = target;
    if (from !== target) this.dispatchEvent(new CustomEvent('moved', { detail: { from, to: target } }));
    return true;
  }

  closed(ws, code, reason) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearTimeout(this.openTimer);
    this.stopKeepalive();
    if (this.stopped) return;
    const movedTo = this.movedTo;
    this.movedTo = null;
    if (movedTo || code === CLOSE.MOVED) {
      // Handed over: straight to where the room went, then its other successors.
      this.plan = [...new Set([movedTo ?? hostBase(), ...this.successors, ...this.former, hostBase()])]
        .filter((o) => o !== this.target || o === movedTo);
      if (movedTo && movedTo !== this.target) {
        this.open();
        return;
      }
    }
    // Another host that will not have this page (an older version, another room's password):
    // not a verdict on the room, so the page goes on to the next one.
    if (REFUSALS.has(code) && this.target === hostBase()) {
      this.stopped = true;
      // The host's reason is English: the code says it in the person's language.
      this.setState('refused', { code, reason: refusalReason(code) });
      return;
    }
    // 4429: the host is full, or we joined too often: wait longer, and at least as long as
    // it asked, before knocking again.
    const minDelay = code === CLOSE.TOO_MANY ? this.retryAfterMs : 0;
    this.retryAfterMs = 0;
    if (code === CLOSE.TOO_MANY) this.plan = []; // that host is up: wait for it, not elsewhere
    this.scheduleRetry(code, reason, minDelay);
  }

  scheduleRetry(code = 0, reason = '', minDelay = 0) {
    if (!this.downSince) this.downSince = Date.now();
    const cap = code === CLOSE.TOO_MANY ? FULL_RETRY_CAP_MS
      : Date.now() - this.downSince < QUICK_FOR_MS ? QUICK_RETRY_CAP_MS : SLOW_RETRY_CAP_MS;
    // The hosts of one round (the host, then its successors) are tried one after another;
    // the backoff is between rounds.
    const inRound = this.plan.length > 0;
    const delay = Math.max(minDelay, inRound ? NEXT_HOST_MS
      : backoffDelay(this.attempt + (code === CLOSE.TOO_MANY ? 3 : 0), Math.random, cap));
    if (!inRound) this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.setState('offline', { retryAt, code, reason, next: (this.plan[0] ?? hostBase()) !== hostBase() });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  startKeepalive() {
    this.stopKeepalive();
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      ws.send('{"type":"ping"}');
      clearTimeout(this.pongTimer);
      // Nothing heard back: the link is dead even if the socket has not noticed yet.
      this.pongTimer = setTimeout(() => {
        if (this.ws !== ws) return;
        ws.onclose = null;
        try { ws.close(CLOSE.NO_PONG, 'no pong'); } catch { /* already gone */ }
        this.closed(ws, 0, t('connection.stoppedAnswering'));
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopKeepalive() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}
