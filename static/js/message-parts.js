// The parts a message gained with conversations: the quote of the message it answers, the
// "edited" mark, the quiet line a deleted message leaves, and the reaction chips under the
// bubble. Each is built from the message's current state; clicks go up as data-action buttons.

import { h } from './dom.js';
import { t } from './i18n.js';
import { reactionChips } from './message-state.js';

const QUOTE_CHARS = 120;

/** First line of `text`, cut to a quote's length. */
export function firstLine(text) {
  const line = String(text ?? '').split('\n').find((l) => l.trim()) ?? '';
  return line.length > QUOTE_CHARS ? `${line.slice(0, QUOTE_CHARS - 1)}…` : line;
}

/** The quote above an answer: who wrote the original and its first line; a click jumps to it. */
export function replyQuote(reply, meId) {
  if (!reply || !Number.isInteger(reply.id) && !reply.user) return null;
  const who = reply.user?.id === meId ? t('people.you') : reply.user?.name ?? t('people.someone');
  const gone = reply.text === null || reply.text === undefined;
  const excerpt = gone ? t('msg.deleted') : firstLine(reply.text) || t('msg.aFile');
  return h('button', {
    type: 'button', class: `reply-quote${gone ? ' gone' : ''}`,
    dataset: Number.isInteger(reply.id) ? { action: 'jump', target: String(reply.id) } : {},
    'aria-label': t('msg.replyQuote', { name: who, text: excerpt }),
  }, h('span', { class: 'reply-who', text: who }), ' ', h('span', { class: 'reply-text', text: excerpt }));
}

export function editedMark(ev) {
  if (!ev.edited_at || ev.deleted) return null;
  const when = new Date(ev.edited_at);
  return h('span', { class: 'edited-mark', title: t('msg.editedAt', { when: when.toLocaleString() }), text: t('msg.edited') });
}

export function tombstone() {
  return h('p', { class: 'tombstone', text: t('msg.deleted') });
}

/** The chips under a bubble: emoji and count, yours pressed; the title names who reacted. */
export function reactionRow(ev, meId) {
  const chips = reactionChips(ev.reactions, meId);
  if (!chips.length || ev.deleted || !Number.isInteger(ev.id)) return null;
  return h('div', { class: 'reactions', role: 'group', 'aria-label': t('msg.reactions') }, chips.map((c) => h('button', {
    type: 'button', class: `reaction${c.mine ? ' mine' : ''}`, title: c.names.join(', '),
    'aria-pressed': c.mine ? 'true' : 'false',
    'aria-label': t(c.mine ? 'reaction.removeYours' : 'reaction.addYours', { emoji: c.emoji, count: c.count, names: c.names.join(', ') }),
    dataset: { action: 'react', target: String(ev.id), emoji: c.emoji, on: c.mine ? '' : '1' },
  }, h('span', { class: 'reaction-emoji', text: c.emoji }), h('span', { class: 'reaction-count', text: String(c.count) }))));
}
