// The outbox: every message goes through it, one at a time and in order, and stays in page
// storage until the host acknowledges it (its own message coming back with our client_msg_id).
// A message the host refuses for good is marked failed, with the reason, for Retry or Discard.
//
// An acknowledged message is kept a while longer in the sent log, as `sent` with its id and the
// host that took it: if that host is lost before a standby got the message, the host taking
// over never had it. So after the room moved, every `sent` message the new host does not show
// goes back into the outbox and out again (same client_msg_id: a host stores a repeated one
// once). It leaves the log once a different host shows it, or after SENT_KEEP_MS.

import * as store from './storage.js';
import { uuid } from './util.js';
import { errorText } from './errors.js';
import { ERROR, retryAfterSeconds } from './codes.js';
import { hostBase } from './host-base.js';

const ACK_WAIT_MS = 10000;
export const SENT_KEEP_MS = 10 * 60 * 1000;

/** The sent log, without what is older than SENT_KEEP_MS. */
function sentLog() {
  const all = store.loadSent();
  const now = Date.now();
  const kept = all.filter((i) => now - (i.at ?? 0) < SENT_KEEP_MS);
  if (kept.length !== all.length) store.saveSent(kept);
  return kept;
}

/**
 * A host showed `item` (an outbox item, or one of the log) stored as event `id`. Shown by the
 * host that took it first, it is logged as `sent`; shown by a second host, it is safe: it
 * leaves the log.
 */
function logShown(item, id) {
  const others = sentLog().filter((i) => i.cmid !== item.cmid);
  const logged = store.loadSent().find((i) => i.cmid === item.cmid);
  const firstHost = item.host ?? logged?.host ?? hostBase();
  if (firstHost !== hostBase()) {
    store.saveSent(others);
    return;
  }
  const { state, reason, ...rest } = item;
  store.saveSent([...others, { ...rest, state: 'sent', id: Number.isInteger(id) ? id : item.id, host: firstHost, at: logged?.at ?? Date.now() }]);
}

/**
 * `send(frame)` puts a frame on the link (false when it is down), `ready()` says whether the room
 * takes messages now, `onChange(opts)` asks for a redraw. Returns { items(), sent(), enqueue({text, file, to, reply_to}),
 * pump(), acknowledge(cmid, id), ackFromHistory(events, meId), resendAfterMove(shown), refused(frame),
 * retry(cmid), discard(cmid), disconnected(), stop() }.
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
    sent: sentLog,
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
    acknowledge(cmid, id) {
      const all = items();
      const item = all.find((i) => i.cmid === cmid) ?? sentLog().find((i) => i.cmid === cmid);
      if (item) logShown(item, id);
      store.saveOutbox(all.filter((i) => i.cmid !== cmid));
      if (settle(cmid)) pump();
    },
    /** What the host's history shows as stored (sent just before a drop) counts as acknowledged. */
    ackFromHistory(events, meId) {
      const shown = new Map(events.filter((e) => e.type === 'message' && e.user?.id === meId && e.client_msg_id)
        .map((e) => [e.client_msg_id, e.id]));
      const all = items();
      for (const item of [...all, ...sentLog()]) if (shown.has(item.cmid)) logShown(item, shown.get(item.cmid));
      const left = all.filter((i) => !shown.has(i.cmid));
      if (left.length !== all.length) store.saveOutbox(left);
    },
    /** The room is at a host that did not take the logged messages: each one whose cmid is not
     *  in `shown` (what its welcome showed) goes out again, before anything newer. */
    resendAfterMove(shown) {
      const log = sentLog();
      const again = log.filter((i) => i.host !== hostBase() && !shown.has(i.cmid));
      if (!again.length) return;
      const queued = items();
      const fresh = again.filter((i) => !queued.some((q) => q.cmid === i.cmid)).map((i) => ({ ...i, state: 'pending' }));
      store.saveOutbox([...fresh, ...queued]);
      onChange({});
      pump();
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
