// Modal dialogs on the native <dialog>: focus is trapped, Escape closes, focus returns after.

import { h } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';

let counter = 0;

/** Open a modal with a title and body nodes; returns the <dialog>. Closing removes it. */
export function openDialog(title, body, className = '') {
  const opener = document.activeElement;
  counter += 1;
  const titleId = `dialog-title-${counter}`;
  const close = h('button', { type: 'button', class: 'icon-btn dialog-close', 'aria-label': t('dialog.close') }, icon('close'));
  const dialog = h('dialog', { class: `dialog ${className}`.trim(), 'aria-labelledby': titleId },
    h('div', { class: 'dialog-head' }, h('h2', { id: titleId, text: title }), close),
    h('div', { class: 'dialog-body' }, body));
  close.addEventListener('click', () => dialog.close());
  // A click on the backdrop (outside the box) closes too.
  dialog.addEventListener('click', (event) => {
    if (event.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top && event.clientY <= r.bottom;
    if (!inside) dialog.close();
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** A read-only text field with a Copy button (clipboard API only exists on secure origins). */
export function copyField(value, label) {
  const input = h('input', { type: 'text', readOnly: true, value, class: 'copy-input', 'aria-label': label });
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h('button', { type: 'button', class: 'btn btn-quiet' }, icon('copy'), h('span', { text: t('copy.button') }));
  button.addEventListener('click', async () => {
    input.focus();
    input.select();
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(value);
        ok = true;
      } else {
        ok = document.execCommand('copy');
      }
    } catch { ok = false; }
    status.textContent = ok ? t('copy.done') : t('copy.manual');
  });
  return h('div', { class: 'copy-field' }, input, button, status);
}
