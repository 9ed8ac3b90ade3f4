// The composer: a growing text box (Enter sends, Shift+Enter breaks the line), attach button,
// pasted images, typing pings, and a character count that appears only near the limit. Arrow
// up in an empty box asks to edit your last message ('chat:edit-last'); Escape asks to stop
// replying or editing ('chat:cancel-context').

import { h, emit } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';
import { utf8Length } from './util.js';

const TYPING_EVERY_MS = 2500;
const MAX_HEIGHT_PX = 176;

/** Fills `form`; says what the person did by 'chat:send', 'chat:files' and 'chat:typing' events.
 *  Returns { focus(), setLimit(bytes), setPlaceholder(text), setReadOnly(on), setText(text),
 *  textarea, stop() }. */
export function mountComposer(form, { limitBytes, placeholder }) {
  let limit = limitBytes;
  let hint = placeholder; // shown again when the room is no longer read-only
  let readOnly = false;
  let lastTyping = 0;
  const picker = h('input', { type: 'file', multiple: true, class: 'sr-only', tabIndex: -1, 'aria-hidden': 'true' });
  const attach = h('button', { type: 'button', class: 'icon-btn attach', 'aria-label': t('composer.attach'), title: t('composer.attach') }, icon('attach'));
  const text = h('textarea', { id: 'compose', class: 'compose-text', rows: 1, placeholder, 'aria-label': t('composer.message'), enterKeyHint: 'send', autocomplete: 'off' });
  const counter = h('span', { class: 'counter', 'aria-live': 'polite', hidden: true });
  const error = h('p', { class: 'compose-error', role: 'alert', hidden: true });
  const send = h('button', { type: 'submit', class: 'send-btn', 'aria-label': t('composer.send'), title: t('composer.sendTitle') }, icon('send', 'flip-rtl'));
  form.classList.add('composer');
  form.append(error, h('div', { class: 'composer-row' }, picker, attach, h('div', { class: 'compose-box' }, text, counter), send));

  function grow() {
    text.style.height = 'auto';
    // scrollHeight leaves out the borders, which a border-box height includes: without them
    // Firefox sees 2 px of overflow and shows a scrollbar in a one-line box.
    const borders = text.offsetHeight - text.clientHeight;
    text.style.height = `${Math.min(text.scrollHeight + borders, MAX_HEIGHT_PX)}px`;
  }

  function check() {
    const used = utf8Length(text.value);
    const near = used > limit * 0.8;
    counter.hidden = !near;
    counter.textContent = near ? t('composer.left', { count: limit - used }) : '';
    counter.classList.toggle('over', used > limit);
    return used <= limit;
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function submit() {
    const value = text.value;
    if (!value.trim()) return;
    if (!check()) {
      showError(t('composer.over', { count: utf8Length(value) - limit }));
      return;
    }
    showError('');
    lastTyping = 0; // the others' indicator ends with this message; the next keystroke restarts it
    text.value = '';
    grow();
    check();
    emit(form, 'chat:send', { text: value }); // after clearing: the room may put a draft back
  }

  const ctl = new AbortController();
  const { signal } = ctl;
  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); text.focus(); }, { signal });
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === 'ArrowUp' && !text.value && !event.shiftKey && !event.altKey) {
      event.preventDefault();
      emit(form, 'chat:edit-last');
    } else if (event.key === 'Escape') {
      emit(form, 'chat:cancel-context');
    }
  }, { signal });
  text.addEventListener('input', () => {
    grow();
    check();
    if (error.textContent && check()) showError('');
    const now = Date.now();
    if (text.value.trim() && now - lastTyping > TYPING_EVERY_MS) {
      lastTyping = now;
      emit(form, 'chat:typing');
    }
  }, { signal });
  text.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (!files.length) return;
    event.preventDefault();
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    emit(form, 'chat:files', {
      files: files.map((f, i) => (f.name && f.name !== 'image.png' ? f
        : new File([f], `pasted-${stamp}${i ? `-${i}` : ''}.${(f.type.split('/')[1] || 'png').replace('jpeg', 'jpg')}`, { type: f.type }))),
    });
  }, { signal });
  attach.addEventListener('click', () => picker.click(), { signal });
  picker.addEventListener('change', () => {
    if (picker.files?.length) emit(form, 'chat:files', { files: [...picker.files] });
    picker.value = '';
  }, { signal });

  return {
    focus: () => text.focus(),
    setLimit(bytes) { limit = bytes; check(); },
    setPlaceholder(value) {
      hint = value;
      if (!readOnly) text.placeholder = value;
    },
    /** No host serves the room (a standby reads its copy out): nothing can be sent, and what
     *  is typed stays in the box. */
    setReadOnly(on) {
      readOnly = on;
      for (const part of [text, send, attach]) part.disabled = on;
      form.classList.toggle('read-only', on);
      text.placeholder = on ? t('conn.reading') : hint; // the banner says why
    },
    setText(value) {
      text.value = value;
      grow();
      check();
      text.focus();
      text.setSelectionRange(value.length, value.length);
    },
    textarea: text,
    stop() { ctl.abort(); },
  };
}
