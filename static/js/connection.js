// The WebSocket to the host: hello on open, keepalive pings, and reconnect with backoff.
// Emits 'state' ({state, retryAt, code, reason}) and 'frame' (one parsed server frame).

import { backoffDelay } from './util.js';
import { CLOSE, ERROR, REFUSALS, retryAfterSeconds } from './codes.js';
import { refusalReason } from './errors.js';
import { t } from './i18n.js';

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

export class Connection extends EventTarget {
  /** `hello()` returns the fields of the hello frame, asked fresh on every (re)connect. */
  constructor(url, hello) {
    super();
    this.url = url;
    this.hello = hello;
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

  /** Send a frame when the link is up; false when it is not (the caller keeps it queued). */
  send(frame) {
    if (this.state !== 'online' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  retryNow() {
    if (this.stopped || this.state === 'online' || this.state === 'connecting') return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...extra } }));
  }

  open() {
    clearTimeout(this.retryTimer);
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
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
      if (frame.type === 'welcome') {
        clearTimeout(this.openTimer);
        this.attempt = 0;
        this.downSince = 0;
        this.setState('online');
        this.startKeepalive();
      }
      this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
    };
    ws.onclose = (event) => this.closed(ws, event.code, event.reason);
  }

  closed(ws, code, reason) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearTimeout(this.openTimer);
    this.stopKeepalive();
    if (this.stopped) return;
    if (REFUSALS.has(code)) {
      this.stopped = true;
      // The host's reason is English: the code says it in the person's language.
      this.setState('refused', { code, reason: refusalReason(code) });
      return;
    }
    // 4429: the host is full, or we joined too often: wait longer, and at least as long as
    // it asked, before knocking again.
    const minDelay = code === CLOSE.TOO_MANY ? this.retryAfterMs : 0;
    this.retryAfterMs = 0;
    this.scheduleRetry(code, reason, minDelay);
  }

  scheduleRetry(code = 0, reason = '', minDelay = 0) {
    if (!this.downSince) this.downSince = Date.now();
    const cap = code === CLOSE.TOO_MANY ? FULL_RETRY_CAP_MS
      : Date.now() - this.downSince < QUICK_FOR_MS ? QUICK_RETRY_CAP_MS : SLOW_RETRY_CAP_MS;
    const delay = Math.max(minDelay,
      backoffDelay(this.attempt + (code === CLOSE.TOO_MANY ? 3 : 0), Math.random, cap));
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.setState('offline', { retryAt, code, reason });
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

export function wsUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}
