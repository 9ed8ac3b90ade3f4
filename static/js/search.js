// The search panel (Ctrl+K, Cmd+K or the header's button): a field, then the host's results,
// newest first, each with who, the day and the words around the match; Enter or a click
// jumps to the message. The host answers a `search` frame with `results` to the asker alone,
// so private conversations show up only for the two people in them.

import { h } from './dom.js';
import { icon } from './icons.js';
import { openDialog } from './dialogs.js';
import { formatDay, formatTime, t } from './i18n.js';

const PAGE = 20;
const TYPE_PAUSE_MS = 250;
const CONTEXT_CHARS = 60;

/** What the host is asked for `typed`: the last word, still being typed, also as the start of
 *  longer words (`plan` finds "planning") once it has three letters; a typed `*` stays. */
export function searchQuery(typed) {
  const q = typed.trim();
  return /[\p{L}\p{N}]{3}$/u.test(q) ? `${q}*` : q;
}

/** `text` around the first of the query's words, with that word marked. */
export function excerpt(text, q) {
  const words = q.replaceAll('*', '').toLocaleLowerCase().split(/\s+/).filter(Boolean);
  const lower = text.toLocaleLowerCase();
  let at = -1;
  let len = 0;
  for (const w of words) {
    const i = lower.indexOf(w);
    if (i >= 0 && (at < 0 || i < at)) { at = i; len = w.length; }
  }
  if (at < 0) return { before: text.slice(0, CONTEXT_CHARS * 2), hit: '', after: '' };
  const from = Math.max(0, at - CONTEXT_CHARS);
  return {
    before: (from > 0 ? '…' : '') + text.slice(from, at),
    hit: text.slice(at, at + len),
    after: text.slice(at + len, at + len + CONTEXT_CHARS * 2),
  };
}

/**
 * Open the panel. `send(frame)` is false when the room is offline; `onJump(id)` shows a
 * message; `meId` names your own results "You". Returns { results(frame), dialog }.
 */
export function openSearch({ send, onJump, meId }) {
  const input = h('input', { type: 'search', id: 'search-q', class: 'search-input', placeholder: t('search.placeholder'), 'aria-label': t('search.placeholder'), autocomplete: 'off', enterKeyHint: 'search' });
  const status = h('p', { class: 'search-status muted', role: 'status' });
  const list = h('ul', { class: 'search-results', 'aria-label': t('search.results') });
  const more = h('button', { type: 'button', class: 'link-btn', hidden: true, text: t('search.older') });
  const body = h('div', { class: 'search-panel' }, h('div', { class: 'search-field' }, icon('search'), input), status, list, more);
  const dialog = openDialog(t('search.title'), body, 'search-dialog');
  let asked = '';
  let timer = 0;
  let shown = [];

  function ask(before = null) {
    clearTimeout(timer);
    const q = searchQuery(input.value);
    if (!q) { asked = ''; list.replaceChildren(); status.textContent = ''; more.hidden = true; return; }
    const frame = { type: 'search', q, limit: PAGE };
    if (before) frame.before = before;
    if (!send(frame)) { status.textContent = t('search.offline'); return; }
    asked = q;
    if (!before) status.textContent = t('search.searching');
  }

  function row(ev) {
    const date = new Date(ev.ts);
    const part = excerpt(ev.text ?? '', asked);
    const who = ev.user?.id === meId ? t('people.you') : ev.user?.name ?? t('people.someone');
    const where = ev.to ? (ev.user?.id === meId ? t('search.privateTo', { name: ev.to.name }) : t('search.privateToYou')) : '';
    return h('li', {}, h('button', { type: 'button', class: 'search-hit', dataset: { id: String(ev.id) } },
      h('span', { class: 'search-meta' }, h('strong', { text: who }), where ? h('span', { class: 'search-private', text: where }) : null,
        h('time', { dateTime: ev.ts, text: `${formatDay(date)} ${formatTime(date)}` })),
      h('span', { class: 'search-text' }, part.before, part.hit ? h('mark', { text: part.hit }) : null, part.after)));
  }

  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => ask(), TYPE_PAUSE_MS); });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      const first = list.querySelector('.search-hit');
      if (first && asked === searchQuery(input.value)) first.click();
      else ask();
    } else if (event.key === 'ArrowDown') {
      event.preventDefault();
      list.querySelector('.search-hit')?.focus();
    }
  });
  list.addEventListener('keydown', (event) => {
    const hits = [...list.querySelectorAll('.search-hit')];
    const at = hits.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' && at >= 0) { event.preventDefault(); hits[Math.min(hits.length - 1, at + 1)].focus(); }
    if (event.key === 'ArrowUp' && at >= 0) { event.preventDefault(); (at === 0 ? input : hits[at - 1]).focus(); }
  });
  list.addEventListener('click', (event) => {
    const hit = event.target.closest('.search-hit');
    if (!hit) return;
    dialog.close();
    onJump(Number(hit.dataset.id));
  });
  more.addEventListener('click', () => { more.dataset.pending = '1'; ask(shown[shown.length - 1]?.id); });
  dialog.addEventListener('close', () => clearTimeout(timer));
  input.focus();

  return {
    dialog,
    /** A `results` frame from the host. */
    results(frame) {
      if (frame.q !== asked || !dialog.open) return;
      const events = (frame.events ?? []).filter((e) => Number.isInteger(e?.id));
      const older = more.dataset.pending === '1';
      shown = older ? [...shown, ...events] : events;
      more.dataset.pending = '';
      list.replaceChildren(...shown.map(row));
      more.hidden = !frame.has_more;
      status.textContent = shown.length ? t(frame.has_more ? 'search.foundMore' : 'search.found', { count: shown.length }) : t('search.none');
    },
  };
}
