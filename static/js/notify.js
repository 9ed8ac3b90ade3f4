// Browser notifications for a room the person is not looking at (another tab, a minimised
// window). Off until the person picks a level with the bell in the header and the browser
// allows it: "mentions" (a message naming them, or a private one) or "all" (every message).
//
// Browsers offer notifications only in a secure context (https, or this computer's own
// address) and only with the person's permission. Where either is missing the bell says why
// and nothing else changes: the tab's title still counts unread messages (title.js). The
// desktop app notifies through its own bridge instead (desktop.notify), so the bell is not
// shown there.

import { h } from './dom.js';
import { icon } from './icons.js';
import { openDialog } from './dialogs.js';
import * as store from './storage.js';
import { t } from './i18n.js';

export const LEVELS = ['off', 'mentions', 'all'];
const LEVEL_KEYS = { off: 'notify.off', mentions: 'notify.mentions', all: 'notify.all' };
const BODY_CHARS = 180;

/** True where this page may show notifications at all (the API exists in a secure context). */
export function canNotify() {
  return typeof window.Notification === 'function' && window.isSecureContext;
}

/** Does the message event `ev` call for a notification to the person `meId` at `level`?
 *  Keyed on the protocol's fields: `to` is present on private messages, `mentions` lists the
 *  ids of the people a message names. */
export function wanted(ev, meId, level) {
  if (level === 'off' || !LEVELS.includes(level) || !ev || ev.user?.id === meId) return false;
  if (level === 'all') return true;
  const mentioned = Array.isArray(ev.mentions) && meId != null && ev.mentions.includes(meId);
  return Boolean(ev.to) || mentioned;
}

/** The notification's title and body for `ev` in `roomName`. */
export function describe(ev, meId, roomName) {
  const who = ev.user?.name ?? t('people.someone');
  let title = t('notify.titleIn', { name: who, room: roomName });
  if (ev.to) title = t('notify.titlePrivate', { name: who });
  else if (Array.isArray(ev.mentions) && ev.mentions.includes(meId)) title = t('notify.titleMention', { name: who, room: roomName });
  const text = ev.text || ev.file?.name || '';
  return { title, body: text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS - 1)}…` : text };
}

function show(title, options) {
  try {
    const note = new Notification(title, options);
    note.addEventListener('click', () => { window.focus(); note.close(); });
  } catch {
    // Some browsers (Chrome on Android) only notify through a service worker.
    navigator.serviceWorker?.getRegistration?.()
      .then((reg) => reg?.showNotification(title, options))
      .catch(() => {});
  }
}

/**
 * The bell button (append it where the header's actions are) and the notifier behind it.
 * Returns { button, message(ev, meId, roomName), stop() }.
 */
export function mountNotifier() {
  let dialog = null;
  const button = h('button', { type: 'button', class: 'chip notify-chip', 'aria-haspopup': 'dialog', onclick: () => openSettings() }, icon('bell'));

  function level() {
    const saved = store.notifyLevel();
    return canNotify() && Notification.permission === 'granted' && LEVELS.includes(saved) ? saved : 'off';
  }

  function label() {
    const on = level() !== 'off';
    button.setAttribute('aria-label', t(on ? 'notify.onChange' : 'notify.offChange'));
    button.title = t(on ? 'notify.isOn' : 'notify.isOff');
    button.classList.toggle('is-on', on);
  }

  async function choose(value, status, radios) {
    if (value !== 'off' && Notification.permission === 'default') {
      try { await Notification.requestPermission(); } catch { /* treated as not granted */ }
    }
    if (value !== 'off' && Notification.permission !== 'granted') {
      status.textContent = t('notify.notAllowed');
      value = 'off';
      radios.forEach((r) => { r.checked = r.value === 'off'; });
    } else {
      status.textContent = t(value === 'off' ? 'notify.nowOff' : 'notify.nowOn');
    }
    store.setNotifyLevel(value);
    label();
  }

  function openSettings() {
    const status = h('p', { class: 'hint', role: 'status' });
    const body = [h('p', { class: 'muted', text: t('notify.intro') })];
    if (!canNotify()) {
      body.push(h('p', { class: 'warning', text: window.isSecureContext
        ? t('notify.unsupported')
        : t('notify.insecure') }));
    } else {
      const current = level();
      const radios = LEVELS.map((value) => h('input', { type: 'radio', name: 'notify-level', value, checked: value === current }));
      const fieldset = h('fieldset', { class: 'notify-levels' }, h('legend', { text: t('notify.legend') }),
        radios.map((radio) => h('label', { class: 'radio-row' }, radio, h('span', { text: t(LEVEL_KEYS[radio.value]) }))));
      fieldset.addEventListener('change', (e) => choose(e.target.value, status, radios));
      if (Notification.permission === 'denied') status.textContent = t('notify.blocked');
      body.push(fieldset);
    }
    body.push(status);
    dialog = openDialog(t('notify.title'), body, 'notify-dialog');
    dialog.addEventListener('close', () => { dialog = null; }, { once: true });
  }

  label();
  return {
    button,
    /** A message arrived while the person was away: notify when they asked for it. */
    message(ev, meId, roomName) {
      if (!canNotify() || !wanted(ev, meId, level())) return;
      const { title, body } = describe(ev, meId, roomName);
      show(title, { body, tag: `lanchat-${roomName}`, icon: '/icon.svg' });
    },
    stop() { dialog?.close(); },
  };
}
