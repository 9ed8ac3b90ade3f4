// What a message looks like now: the host sends each message in its current state in history,
// and live as separate edit, delete and react events. Folding those events over the messages,
// in id order, gives the same state whichever mix of both this page holds (each step is
// idempotent: an edit sets the text, a delete makes a tombstone, a reaction is a set add or
// remove). Pure: no DOM, no storage.

/** Event types that change an earlier message instead of showing on their own. */
export const ACTIONS = new Set(['edit', 'delete', 'react']);

function react(reactions, ev) {
  const out = { ...(reactions ?? {}) };
  const who = (out[ev.emoji] ?? []).filter((u) => u.id !== ev.user?.id);
  if (ev.on) who.push(ev.user);
  if (who.length) out[ev.emoji] = who;
  else delete out[ev.emoji];
  return out;
}

/** One action applied to the message it targets; returns the message as it is afterwards. */
export function applyAction(msg, ev) {
  if (msg.deleted) return msg;
  switch (ev.type) {
    case 'edit': return { ...msg, text: ev.text, edited_at: ev.ts, mentions: ev.mentions ?? msg.mentions };
    case 'delete': return { ...msg, text: '', file: null, deleted: true, reactions: {} };
    case 'react': return { ...msg, reactions: react(msg.reactions, ev) };
    default: return msg;
  }
}

/**
 * Every message of `events` (sorted by id) in its current state: a Map id -> message, with the
 * actions folded in. An action whose message is not loaded changes nothing: the message comes
 * later with an older page, already in its current state.
 */
export function foldMessages(events) {
  const messages = new Map();
  for (const ev of events) {
    if (ev.type === 'message') {
      messages.set(ev.id, ev);
    } else if (ACTIONS.has(ev.type)) {
      const msg = messages.get(ev.target);
      if (msg) messages.set(ev.target, applyAction(msg, ev));
    }
  }
  return messages;
}

/** The events with the text of a deleted message gone from it, its edits and the quotes of it. */
export function scrubDeleted(events, target) {
  return events.map((ev) => {
    if (ev.id === target && ev.type === 'message') return { ...ev, text: '', file: null, deleted: true, reactions: {} };
    if (ev.type === 'edit' && ev.target === target) return { ...ev, text: '' };
    if (ev.reply_to?.id === target) return { ...ev, reply_to: { ...ev.reply_to, text: null } };
    return ev;
  });
}

/** The reactions of a message as chips: [{emoji, count, names, mine}], in first-seen order. */
export function reactionChips(reactions, meId) {
  return Object.entries(reactions ?? {})
    .filter(([, who]) => Array.isArray(who) && who.length)
    .map(([emoji, who]) => ({
      emoji, count: who.length, names: who.map((u) => u.name), mine: who.some((u) => u.id === meId),
    }));
}

/** The quote of the message `msg` answers, as that message is now when it is loaded. */
export function currentQuote(reply, messages) {
  const original = reply && messages.get(reply.id);
  if (!original) return reply ?? null;
  if (original.deleted) return { ...reply, text: null };
  return original.edited_at ? { ...reply, text: original.text } : reply;
}
