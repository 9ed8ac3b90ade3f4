// What a moderator (the person hosting, or whoever signed in with the host's admin password)
// confirms before it happens: removing a person from the room for a while, and deleting a
// message; and the sign-in with the admin password. The host checks the right again on every
// action; these dialogs only ask.

import { h } from './dom.js';
import { openDialog } from './dialogs.js';

export const REMOVE_MINUTES = [5, 15, 60, 24 * 60];

const label = (m) => (m < 60 ? `${m} minutes` : m === 60 ? '1 hour' : `${m / 60} hours`);

/** Ask how long to remove `user`; `onRemove(minutes)` does it. */
export function openRemoveDialog(user, onRemove) {
  const select = h('select', { id: 'remove-minutes', class: 'select' },
    REMOVE_MINUTES.map((m) => h('option', { value: String(m), text: label(m), selected: m === 15 })));
  const go = h('button', { type: 'submit', class: 'btn btn-danger', text: `Remove ${user.name}` });
  const form = h('form', { class: 'stack' },
    h('p', { text: `${user.name} is disconnected and cannot come back from this browser until the time is up.` }),
    h('label', { for: 'remove-minutes', text: 'For how long' }), select, go);
  const dialog = openDialog(`Remove ${user.name} from the room?`, form, 'remove-dialog');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onRemove(Number(select.value));
    dialog.close();
  });
  select.focus();
  return dialog;
}

/** Ask before deleting a message (yours, or any as a moderator); `onDelete()` does it. */
export function openDeleteDialog({ own, excerpt }, onDelete) {
  const go = h('button', { type: 'button', class: 'btn btn-danger', text: 'Delete' });
  const keep = h('button', { type: 'button', class: 'btn', text: 'Cancel' });
  const body = [
    excerpt ? h('blockquote', { class: 'delete-quote', text: excerpt }) : null,
    h('p', { text: own
      ? 'It is erased from the host for everyone, with any file attached; the others see “message deleted”.'
      : 'As a moderator you erase it for everyone, with any file attached.' }),
    h('p', { class: 'dialog-actions' }, keep, go),
  ].filter(Boolean);
  const dialog = openDialog('Delete this message?', body, 'delete-dialog');
  go.addEventListener('click', () => { dialog.close(); onDelete(); });
  keep.addEventListener('click', () => dialog.close());
  go.focus();
  return dialog;
}

/**
 * Sign in with the host's admin password (POST /api/login sets the admin cookie). `onAdmin()`
 * runs once the host took it as the admin password: the room then reconnects to be a moderator.
 */
export function openAdminSignIn(onAdmin) {
  const input = h('input', { id: 'admin-password', type: 'password', required: true, autocomplete: 'current-password' });
  const problem = h('p', { class: 'form-error', role: 'alert', id: 'admin-error', hidden: true });
  const go = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Sign in' });
  const form = h('form', { class: 'stack' },
    h('p', { text: 'Whoever has the host’s admin password may delete any message and remove people for a while.' }),
    h('label', { for: 'admin-password', text: 'Admin password' }), input, problem, go);
  const dialog = openDialog('Sign in as moderator', form, 'admin-dialog');
  const say = (text) => {
    problem.textContent = text;
    problem.hidden = false;
    input.setAttribute('aria-describedby', 'admin-error');
    input.focus();
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!input.value) { say('Type the admin password.'); return; }
    go.disabled = true;
    const answer = await signIn(input.value);
    go.disabled = false;
    if (answer) { say(answer); return; }
    dialog.close();
    onAdmin();
  });
  input.focus();
  return dialog;
}

/** null once signed in as admin, else why not. */
async function signIn(password) {
  try {
    const res = await fetch('/api/login', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password }), credentials: 'same-origin',
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok) return body?.admin === true ? null : 'That is not the admin password.';
    if (res.status === 401) return 'That is not the admin password.';
    if (res.status === 429) return `Too many wrong tries: ${body?.detail || 'wait a little and try again'}.`;
    return body?.detail ? `The room refused: ${body.detail}.` : `The room refused (HTTP ${res.status}).`;
  } catch {
    return 'Could not reach the room. Check that you are still on its network.';
  }
}
