// "@" completion in the composer: typing @ and the start of a name lists the people online
// whose names match; arrow keys choose, Enter or Tab puts "@Name " in the text, Escape closes.
// The host finds the mentions in the text it stores; this only helps to type them right.

import { h } from './dom.js';
import { t } from './i18n.js';

const MAX_SHOWN = 6;

/** The "@query" being typed just before `caret` in `value`: {start, query}, or null. */
export function mentionAt(value, caret) {
  const before = value.slice(0, caret);
  const at = before.lastIndexOf('@');
  if (at < 0 || (at > 0 && !/\s/.test(before[at - 1]))) return null;
  const query = before.slice(at + 1);
  return /\s/.test(query) || query.length > 32 ? null : { start: at, query };
}

/** People whose name starts with (then contains) `query`, ignoring case and accents. */
export function matchPeople(people, query) {
  const fold = (s) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLocaleLowerCase();
  const q = fold(query);
  const scored = people.map((p) => ({ p, i: fold(p.name).indexOf(q) })).filter((x) => x.i >= 0);
  scored.sort((a, b) => (a.i === 0 ? 0 : 1) - (b.i === 0 ? 0 : 1) || a.p.name.localeCompare(b.p.name));
  return scored.slice(0, MAX_SHOWN).map((x) => x.p);
}

/** Mount on the composer's `form` and `textarea`; `people()` lists whom to offer. Returns { stop() }. */
export function mountMentions(form, textarea, { people }) {
  const ctl = new AbortController();
  const { signal } = ctl;
  const list = h('ul', { class: 'mention-list', id: 'mention-list', role: 'listbox', 'aria-label': t('mentions.list'), hidden: true });
  (textarea.parentElement ?? form).append(list); // above the text box, wherever it sits
  textarea.setAttribute('aria-autocomplete', 'list');
  textarea.setAttribute('aria-controls', 'mention-list');
  let shown = [];
  let active = 0;
  let where = null;

  function close() {
    shown = [];
    where = null;
    list.hidden = true;
    textarea.removeAttribute('aria-activedescendant');
  }

  function draw() {
    list.replaceChildren(...shown.map((p, i) => h('li', {
      id: `mention-opt-${i}`, role: 'option', class: 'mention-option', 'aria-selected': i === active ? 'true' : 'false',
      onmousedown: (e) => { e.preventDefault(); active = i; pick(); },
    }, h('span', { class: 'avatar', 'aria-hidden': 'true', text: (p.name.trim()[0] ?? '?').toUpperCase() }), h('span', { text: p.name }))));
    list.hidden = false;
    textarea.setAttribute('aria-activedescendant', `mention-opt-${active}`);
  }

  function update() {
    where = mentionAt(textarea.value, textarea.selectionStart ?? textarea.value.length);
    shown = where ? matchPeople(people(), where.query) : [];
    if (!shown.length) { close(); return; }
    active = Math.min(active, shown.length - 1);
    draw();
  }

  function pick() {
    const person = shown[active];
    if (!person || !where) return;
    const caret = textarea.selectionStart ?? textarea.value.length;
    const insert = `@${person.name} `;
    textarea.value = textarea.value.slice(0, where.start) + insert + textarea.value.slice(caret);
    const at = where.start + insert.length;
    textarea.setSelectionRange(at, at);
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
    close();
  }

  textarea.addEventListener('input', () => { if (!textarea.value.includes('@')) close(); else update(); }, { signal });
  textarea.addEventListener('blur', close, { signal });
  // On the form, capturing: this runs before the composer's own Enter and Escape.
  form.addEventListener('keydown', (event) => {
    if (event.target !== textarea || list.hidden) return;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (moves[event.key]) {
      active = (active + moves[event.key] + shown.length) % shown.length;
      draw();
    } else if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
      pick();
    } else if (event.key === 'Escape') {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, { signal, capture: true });

  return { stop() { ctl.abort(); list.remove(); } };
}
