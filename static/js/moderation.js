// What a moderator (the person hosting, or whoever signed in with the host's admin password)
// confirms before it happens: removing a person from the room for a while, and deleting a
// message; and the sign-in with the admin password. The host checks the right again on every
// action; these dialogs only ask.

import { h } from './dom.js';
import { openDialog } from './dialogs.js';
import { t } from './i18n.js';

export const REMOVE_MINUTES = [5, 15, 60, 24 * 60];

const label = (m) => (m < 60 ? t('mod.minutes', { count: m }) : t('mod.hours', { count: m / 60 }));

/** Ask how long to remove `user`; `onRemove(minutes)` does it. */
export function openRemoveDialog(user, onRemove) {
  const select = h('select', { id: 'remove-minutes', class: 'select' },
    REMOVE_MINUTES.map((m) => h('option', { value: String(m), text: label(m), selected: m === 15 })));
  const go = h('button', { type: 'submit', class: 'btn btn-danger', text: t('mod.remove', { name: user.name }) });
  const form = h('form', { class: 'stack' },
    h('p', { text: t('mod.removeNote', { name: user.name }) }),
    h('label', { for: 'remove-minutes', text: t('mod.forHowLong') }), select, go);
  const dialog = openDialog(t('mod.removeTitle', { name: user.name }), form, 'remove-dialog');
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
  const go = h('button', { type: 'button', class: 'btn btn-danger', text: t('actions.delete') });
  const keep = h('button', { type: 'button', class: 'btn', text: t('msg.cancel') });
  const body = [
    excerpt ? h('blockquote', { class: 'delete-quote', text: excerpt }) : null,
    h('p', { text: own
      ? t('mod.deleteOwn')
      : t('mod.deleteAny') }),
    h('p', { class: 'dialog-actions' }, keep, go),
  ].filter(Boolean);
  const dialog = openDialog(t('mod.deleteTitle'), body, 'delete-dialog');
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
  const go = h('button', { type: 'submit', class: 'btn btn-primary', text: t('mod.signIn') });
  const form = h('form', { class: 'stack' },
    h('p', { text: t('mod.signInNote') }),
    h('label', { for: 'admin-password', text: t('mod.password') }), input, problem, go);
  const dialog = openDialog(t('mod.signInTitle'), form, 'admin-dialog');
  const say = (text) => {
    problem.textContent = text;
    problem.hidden = false;
    input.setAttribute('aria-describedby', 'admin-error');
    input.focus();
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!input.value) { say(t('mod.typePassword')); return; }
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
    if (res.ok) return body?.admin === true ? null : t('mod.wrongPassword');
    if (res.status === 401) return t('mod.wrongPassword');
    if (res.status === 429) return t('join.tooManyTries');
    return body?.detail ? t('mod.refused', { reason: body.detail }) : t('join.refusedStatus', { status: String(res.status) });
  } catch {
    return t('join.unreachable');
  }
}
