// Your name in the room: a notice when the name you asked for was taken (the host gave you
// another), and the dialog to change it. The change itself is a 'rename' frame; the host
// answers with a stored 'rename' event everyone sees, or an error saying why not.

import { h } from './dom.js';
import { icon } from './icons.js';
import { openDialog } from './dialogs.js';
import { ERROR } from './codes.js';
import { MAX_NAME_CHARS } from './join.js';
import { errorText } from './errors.js';
import { t } from './i18n.js';

const ANSWER_WITHIN_MS = 10000;
const RENAME_ERRORS = new Set([ERROR.NAME_TAKEN, ERROR.BAD_NAME, ERROR.SAME_NAME, ERROR.RATE_LIMITED]);

/**
 * Mount the "name was taken" notice in `el`. `onRename()` opens the dialog. Returns
 * { show(requested, given), hide(), stop() }; a dismissed notice stays away for that pair.
 */
export function mountNameNotice(el, { onRename }) {
  let dismissed = '';
  let current = '';
  el.classList.add('name-notice');
  el.setAttribute('role', 'status');
  el.hidden = true;
  const text = h('span', { class: 'name-notice-text' });
  const onClose = () => { dismissed = current; el.hidden = true; };
  el.replaceChildren(icon('alert'), text,
    h('button', { type: 'button', class: 'link-btn', text: t('name.change'), onclick: () => onRename() }),
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('name.dismiss'), title: t('name.dismiss'), onclick: onClose }, icon('close')));
  return {
    show(requested, given) {
      current = JSON.stringify([requested, given]);
      if (current === dismissed) return;
      text.textContent = t('name.taken', { requested, given });
      el.hidden = false;
    },
    hide() { el.hidden = true; },
    stop() { el.replaceChildren(); el.hidden = true; },
  };
}

/**
 * Ask for a new name. `submit(name)` resolves to null when the room took it, or to the reason
 * it did not (shown under the field, which keeps focus).
 */
export function openRenameDialog(current, submit) {
  const input = h('input', {
    id: 'rename-name', type: 'text', value: current, required: true, maxLength: MAX_NAME_CHARS,
    autocomplete: 'nickname', autocapitalize: 'words', spellcheck: false, enterKeyHint: 'done',
  });
  const problem = h('p', { class: 'form-error', role: 'alert', id: 'rename-error', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', text: t('name.change') });
  const form = h('form', { class: 'stack rename-form' },
    h('label', { for: 'rename-name', text: t('name.label') }), input,
    h('p', { class: 'hint', text: t('name.hint') }), problem, save);
  const dialog = openDialog(t('name.dialogTitle'), form, 'rename-dialog');
  input.select();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = input.value.trim().replace(/\s+/g, ' ');
    const say = (text) => {
      problem.textContent = text;
      problem.hidden = !text;
      input.setAttribute('aria-describedby', 'rename-error');
      input.focus();
    };
    if (!name) { say(t('form.typeName')); return; }
    if (name === current) { dialog.close(); return; }
    save.disabled = true;
    const refusal = await submit(name);
    save.disabled = false;
    if (refusal) say(refusal);
    else dialog.close();
  });
  return dialog;
}

/** A rename refusal from the host, in words a person can act on. */
export function renameRefusal(code, detail) {
  switch (code) {
    case ERROR.RATE_LIMITED: return t('name.tooFast');
    case ERROR.SAME_NAME: return null;
    default: return errorText(code, detail);
  }
}

/**
 * Renames asked of the host, one at a time. `send(frame)` is false when the room cannot take
 * it now. Returns { ask(name), answer(errorFrame), took(), stop() }: ask() resolves to null once
 * the room took the name, else to why not ('' when it was superseded or the room went away);
 * answer() is true when the error was about the rename.
 */
export function mountRenamer(send) {
  let pending = null;
  return {
    ask(name) {
      if (!send({ type: 'rename', name })) return Promise.resolve(t('name.notConnected'));
      pending?.done('');
      return new Promise((resolve) => {
        const timer = setTimeout(() => done(t('name.noAnswer')), ANSWER_WITHIN_MS);
        const done = (result) => {
          clearTimeout(timer);
          if (pending?.done === done) pending = null;
          resolve(result);
        };
        pending = { done };
      });
    },
    answer(frame) {
      if (!pending || frame.client_msg_id || !RENAME_ERRORS.has(frame.code)) return false;
      pending.done(renameRefusal(frame.code, frame.detail));
      return true;
    },
    /** The room's `rename` event for me arrived. */
    took() { pending?.done(null); },
    stop() { pending?.done(''); },
  };
}
