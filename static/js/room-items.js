// What the message list shows, computed from the room's state alone: the start of the room or
// the "older" button, day lines, the messages of one conversation (grouped, in their current
// state, with their delivery state), the "new messages" line, folded presence lines, renames,
// then the outbox and the uploads under way. Pure: no DOM, no storage.

import { presenceFolder, isPresence, renameText } from './presence.js';
import { groupsWith, dayKey } from './util.js';
import { formatDay, t } from './i18n.js';
import { ROOM, conversationOf } from './conversations.js';
import { currentQuote } from './message-state.js';

/** Whether an outbox item or upload (which carries the `to` it goes to) belongs to `conv`. */
const goesTo = (item, conv) => (item.to ? `p:${item.to}` : ROOM) === conv;

function removeText(ev) {
  const minutes = Math.round((new Date(ev.until) - new Date(ev.ts)) / 60000);
  const names = { name: ev.user?.name ?? t('people.aModerator'), target: ev.target_user?.name ?? t('people.someoneElse') };
  if (!Number.isFinite(minutes)) return t('notice.removedWhile', names);
  if (minutes < 90) return t('notice.removedMinutes', { ...names, count: minutes });
  return t('notice.removedHours', { ...names, count: Math.round(minutes / 60) });
}

/**
 * `state`: { events, messages (folded, see message-state.js), conv, partnerName, admin, unreadAfter,
 * hasMoreBefore, loadingOlder, roomName, me, name, online, outbox, uploads, notes }. `notes`: lines this
 * page adds itself ({key, after: the last event id shown before it, ts, text}: the room moved).
 * Returns the items, each with a stable `key`, for the message list.
 */
export function roomItems({ events, messages = new Map(), conv = ROOM, partnerName = null, admin = false, unreadAfter = null,
  hasMoreBefore, loadingOlder, roomName, me, name, online, outbox, uploads, notes = [] }) {
  const out = [];
  let divider = unreadAfter === null;
  if (hasMoreBefore) out.push({ kind: 'older', key: 'older', loading: loadingOlder });
  else if (events.length) out.push({ kind: 'start', key: 'start', room: roomName, partner: partnerName });
  let prev = null;
  let day = null;
  const now = new Date();
  const dayOf = (ts) => {
    const date = new Date(ts);
    const key = dayKey(date);
    if (key !== day) {
      day = key;
      prev = null;
      out.push({ kind: 'day', key: `day-${key}`, label: formatDay(date, now) });
    }
  };
  const meId = me?.id;
  const delivered = new Set();
  const presence = presenceFolder(meId);
  const flush = () => { const item = presence.flush(); if (item) out.push(item); };
  const inRoom = conv === ROOM;
  let noteAt = 0;
  const notesUpTo = (id) => {
    for (; noteAt < notes.length && notes[noteAt].after < id; noteAt += 1) {
      const note = notes[noteAt];
      flush();
      dayOf(note.ts);
      out.push({ kind: 'notice', key: note.key, ts: note.ts, text: note.text });
      prev = null;
    }
  };
  for (const event of events) {
    notesUpTo(event.id);
    let ev = event.type === 'message' ? messages.get(event.id) ?? event : event;
    if (ev.reply_to) ev = { ...ev, reply_to: currentQuote(ev.reply_to, messages) };
    if (ev.type === 'message' && conversationOf(ev, meId) !== conv) continue;
    if (!inRoom && ev.type !== 'message') continue;
    const quiet = isPresence(ev);
    if (!quiet || !presence.fits(ev) || dayKey(new Date(ev.ts)) !== day) flush();
    if (quiet) {
      dayOf(ev.ts);
      presence.add(ev);
      prev = null;
    } else if (ev.type === 'message') {
      dayOf(ev.ts);
      const own = meId !== undefined && ev.user?.id === meId;
      if (own && ev.client_msg_id) delivered.add(ev.client_msg_id);
      if (!divider && !own && ev.id > unreadAfter) {
        divider = true;
        out.push({ kind: 'unread', key: 'unread' });
        prev = null;
      }
      out.push({
        kind: 'msg', key: own && ev.client_msg_id ? `c-${ev.client_msg_id}` : `e-${ev.id}`,
        ev, own, grouped: groupsWith(prev, ev), status: own ? 'delivered' : null,
        mention: !own && meId !== undefined && (ev.mentions ?? []).includes(meId),
        canEdit: own && !ev.deleted, canDelete: (own || admin) && !ev.deleted, meId,
      });
      prev = ev;
    } else if (ev.type === 'remove') {
      dayOf(ev.ts);
      out.push({ kind: 'notice', key: `e-${ev.id}`, ts: ev.ts, text: removeText(ev) });
      prev = null;
    } else if (ev.type === 'rename') {
      dayOf(ev.ts);
      out.push({ kind: 'notice', key: `e-${ev.id}`, ts: ev.ts, text: renameText(ev, meId) });
      prev = null;
    }
  }
  flush();
  notesUpTo(Infinity);
  const sender = me ?? { id: '', name };
  for (const item of outbox) {
    if (delivered.has(item.cmid) || !goesTo(item, conv)) continue;
    const ev = { type: 'message', user: sender, text: item.text, file: item.file ?? null, ts: item.ts, reply_to: item.reply ?? null };
    dayOf(ev.ts);
    out.push({
      kind: 'msg', key: `c-${item.cmid}`, ev, own: true, grouped: groupsWith(prev, ev), cmid: item.cmid,
      status: item.state === 'failed' ? 'failed' : online ? 'sending' : 'waiting', reason: item.reason,
    });
    prev = ev;
  }
  for (const up of uploads) {
    if (!goesTo(up, conv)) continue;
    const ev = { type: 'message', user: sender, ts: up.ts };
    dayOf(up.ts);
    out.push({
      kind: 'upload', key: up.key, name: up.file.name, size: up.file.size, mime: up.file.type,
      ts: up.ts, progress: up.progress, preview: up.preview, error: up.error, canRetry: up.canRetry, note: up.note,
      grouped: groupsWith(prev, ev),
    });
    prev = ev;
  }
  return out;
}
