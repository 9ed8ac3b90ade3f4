// The outbox: every message goes through it, one at a time and in order, and stays in page
// storage until the host acknowledges it (its own message coming back with our client_msg_id).
// A message the host refuses for good is marked failed, with the reason, for Retry or Discard.

import * as store from './storage.js';
import { uuid } from './util.js';
import { errorText } from './errors.js';
import { ERROR, retryAfterSeconds } from './codes.js';

const ACK_WAIT_MS = 10000;

/**
 * `send(frame)` puts a frame on the link (false when it is down), `ready()` says whether the room
 * takes messages now, `onChange(opts)` asks for a redraw. Returns { items(), enqueue({text, file, to, reply_to}),
 * pump(), acknowledge(cmid), ackFromHistory(events, meId), refused(frame), retry(cmid),
 * discard(cmid), disconnected(), stop() }.
 */
export function mountOutbox({ send, ready, onChange }) {
  let inflight = null;
  let ackTimer = 0;
  let waitTimer = 0;
  let stopped = false;

  const items = () => store.loadOutbox();
  const update = (cmid, patch) => store.saveOutbox(items().map((i) => (i.cmid === cmid ? { ...i, ...patch } : i)));

  function settle(cmid) {
    if (inflight !== cmid) return false;
    inflight = null;
    clearTimeout(ackTimer);
    return true;
  }

  function pump() {
    if (stopped || inflight || !ready()) return;
    const next = items().find((i) => i.state === 'pending');
    if (!next) return;
    const frame = { type: 'message', text: next.text, client_msg_id: next.cmid };
    if (next.file_id) frame.file_id = next.file_id;
    if (next.to) frame.to = next.to;
    if (Number.isInteger(next.reply_to)) frame.reply_to = next.reply_to;
    if (!send(frame)) return;
    inflight = next.cmid;
    clearTimeout(ackTimer);
    // No answer: send it again. The host acknowledges a repeated id without repeating it.
    ackTimer = setTimeout(() => { if (settle(next.cmid)) pump(); }, ACK_WAIT_MS);
  }

  return {
    items,
    pump,
    /** `to`: a person's id for a private message; `reply_to` the id answered (`reply` its quote). */
    enqueue({ text = '', file = null, to = null, reply_to = null, reply = null }) {
      const item = { cmid: uuid(), text, ts: new Date().toISOString(), state: 'pending' };
      if (file) { item.file = file; item.file_id = file.id; }
      if (to) item.to = to;
      if (Number.isInteger(reply_to)) { item.reply_to = reply_to; item.reply = reply; }
      store.saveOutbox([...items(), item]);
      onChange({ forceBottom: true });
      pump();
    },
    acknowledge(cmid) {
      store.saveOutbox(items().filter((i) => i.cmid !== cmid));
      if (settle(cmid)) pump();
    },
    /** Drop what the history shows as already stored (sent just before a drop). */
    ackFromHistory(events, meId) {
      const sent = new Set(events.filter((e) => e.type === 'message' && e.user?.id === meId).map((e) => e.client_msg_id));
      const all = items();
      const left = all.filter((i) => !sent.has(i.cmid));
      if (left.length !== all.length) store.saveOutbox(left);
    },
    /** An error frame about one of ours: true when it was ours and is handled here. */
    refused(frame) {
      const cmid = frame.client_msg_id;
      if (!cmid || !items().some((i) => i.cmid === cmid)) return false;
      settle(cmid);
      if (frame.code === ERROR.RATE_LIMITED) {
        clearTimeout(waitTimer);
        waitTimer = setTimeout(pump, Math.max(200, retryAfterSeconds(frame) * 1000));
        return true;
      }
      update(cmid, { state: 'failed', reason: errorText(frame.code, frame.detail) });
      onChange({});
      pump();
      return true;
    },
    retry(cmid) {
      update(cmid, { state: 'pending', reason: undefined });
      onChange({});
      pump();
    },
    discard(cmid) {
      store.saveOutbox(items().filter((i) => i.cmid !== cmid));
      onChange({});
    },
    /** The link went down: what was in flight goes again on the next welcome. */
    disconnected() {
      inflight = null;
      clearTimeout(ackTimer);
    },
    stop() {
      stopped = true;
      clearTimeout(ackTimer);
      clearTimeout(waitTimer);
    },
  };
}
