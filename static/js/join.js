// The join prompt a browser sees first: the room's name, a remembered name field, Join.

import { h } from './dom.js';
import { icon } from './icons.js';
import { languagePicker, t } from './i18n.js';
import * as desktop from './desktop.js';
import { safetyNote } from './safety.js';

export const MAX_NAME_CHARS = 32;

/** Trade the room password for the host's session cookie; null when in, else why not. */
export async function logIn(password) {
  try {
    const res = await fetch('/api/login', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password }), credentials: 'same-origin',
    });
    if (res.ok) return null;
    // The host's detail is English; the status says enough to tell it in the person's words.
    if (res.status === 401) return t('join.wrongPassword');
    if (res.status === 429) return t('join.tooManyTries');
    return t('join.refusedStatus', { status: String(res.status) });
  } catch {
    return t('join.unreachable');
  }
}

/** Mount the prompt in `root`; `onJoin(name)` is called with a cleaned, non-empty name. */
export function mountJoin(root, info, { name = '', error = '', onJoin }) {
  const nameInput = h('input', {
    id: 'join-name', name: 'name', type: 'text', value: name, required: true, maxLength: MAX_NAME_CHARS,
    autocomplete: 'nickname', autocapitalize: 'words', spellcheck: false, enterKeyHint: 'go',
  });
  const password = info.password && !info.member
    ? h('input', { id: 'join-password', name: 'password', type: 'password', required: true, autocomplete: 'current-password' })
    : null;
  const problem = h('p', { class: 'form-error', role: 'alert', id: 'join-error', text: error, hidden: !error });
  if (error) nameInput.setAttribute('aria-describedby', 'join-error');
  const users = !Number.isInteger(info.users) ? '' : info.users === 0 ? t('join.nobody') : t('join.peopleHere', { count: info.users });
  const machine = info.machine ? t('join.hostedOn', { machine: info.machine }) : '';
  const form = h('form', { class: 'card join-card', 'aria-labelledby': 'join-title' },
    h('div', { class: 'join-top' }, h('div', { class: 'brand' }, icon('chat'), h('span', { text: t('app.name') })), languagePicker()),
    h('h1', { id: 'join-title', text: info.room }),
    h('p', { class: 'muted', text: [machine, users].filter(Boolean).join(' · ') }),
    h('label', { for: 'join-name', text: t('form.yourName') }),
    nameInput,
    password ? [h('label', { for: 'join-password', text: t('join.password') }), password] : null,
    problem,
    safetyNote(info, 'joiner'),
    h('button', { type: 'submit', class: 'btn btn-primary btn-wide' }, h('span', { text: t('form.join') }), icon('arrow', 'flip-rtl')));
  const say = (text, field) => {
    problem.textContent = text;
    problem.hidden = !text;
    if (field) field.focus();
  };
  const submit = form.querySelector('button[type="submit"]');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = nameInput.value.trim().replace(/\s+/g, ' ');
    if (!value) {
      say(t('form.typeName'), nameInput);
      return;
    }
    if (password) {
      if (!password.value) {
        say(t('join.needsPassword'), password);
        return;
      }
      submit.disabled = true;
      const refusal = await logIn(password.value);
      submit.disabled = false;
      if (refusal) {
        say(refusal, password);
        password.select();
        return;
      }
      desktop.standByWith(password.value);
    }
    onJoin(value);
  });
  root.replaceChildren(h('main', { class: 'center-page' }, form));
  document.title = t('app.titleRoom', { room: info.room });
  nameInput.focus();
  if (nameInput.value) nameInput.select();
  // The desktop remembers the name beyond the window's private storage.
  if (!name) {
    desktop.getPrefs().then((prefs) => {
      if (prefs?.name && !nameInput.value) nameInput.value = prefs.name;
    });
  }
}
