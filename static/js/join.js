// The join prompt a browser sees first: the room's name, a remembered name field, Join.

import { h } from './dom.js';
import { icon } from './icons.js';
import { plural } from './util.js';
import * as desktop from './desktop.js';

export const MAX_NAME_CHARS = 32;

/** Mount the prompt in `root`; `onJoin(name)` is called with a cleaned, non-empty name. */
export function mountJoin(root, info, { name = '', error = '', onJoin }) {
  const nameInput = h('input', {
    id: 'join-name', name: 'name', type: 'text', value: name, required: true, maxLength: MAX_NAME_CHARS,
    autocomplete: 'nickname', autocapitalize: 'words', spellcheck: false, enterKeyHint: 'go',
  });
  const password = info.password
    ? h('input', { id: 'join-password', name: 'password', type: 'password', autocomplete: 'current-password' })
    : null;
  const problem = h('p', { class: 'form-error', role: 'alert', id: 'join-error', text: error, hidden: !error });
  if (error) nameInput.setAttribute('aria-describedby', 'join-error');
  const users = Number.isInteger(info.users) ? plural(info.users, 'person', 'people') + ' here now' : '';
  const machine = info.machine ? `Hosted on ${info.machine}` : '';
  const form = h('form', { class: 'card join-card', 'aria-labelledby': 'join-title' },
    h('div', { class: 'brand' }, icon('chat'), h('span', { text: 'LAN Chat' })),
    h('h1', { id: 'join-title', text: info.room }),
    h('p', { class: 'muted', text: [machine, users].filter(Boolean).join(' · ') }),
    h('label', { for: 'join-name', text: 'Your name' }),
    nameInput,
    password ? [h('label', { for: 'join-password', text: 'Room password' }), password] : null,
    problem,
    h('button', { type: 'submit', class: 'btn btn-primary btn-wide' }, h('span', { text: 'Join' }), icon('arrow')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = nameInput.value.trim().replace(/\s+/g, ' ');
    if (!value) {
      problem.textContent = 'Type the name the others will see.';
      problem.hidden = false;
      nameInput.focus();
      return;
    }
    onJoin(value);
  });
  root.replaceChildren(h('main', { class: 'center-page' }, form));
  document.title = `${info.room} · LAN Chat`;
  nameInput.focus();
  if (nameInput.value) nameInput.select();
  // The desktop remembers the name beyond the window's private storage.
  if (!name) {
    desktop.getPrefs().then((prefs) => {
      if (prefs?.name && !nameInput.value) nameInput.value = prefs.name;
    });
  }
}
