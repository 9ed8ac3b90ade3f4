// A room its host closed for good: say who closed it and when, keep the history readable, offer
// to save the conversation, stop reconnecting (and the composer), and in the desktop app offer
// the way back to the lobby. If the same room answers again later, it reopens by itself.

import { h } from './dom.js';
import { icon } from './icons.js';
import { formatSize, formatTime, t } from './i18n.js';
import * as desktop from './desktop.js';
import { hostFetch } from './host-base.js';

const CHECK_BACK_MS = 5000;

/** "Maya closed the room at 08:50" from a `closing` event. */
export function closedText(frame, roomName) {
  const time = formatTime(new Date(typeof frame.ts === 'string' ? frame.ts : Date.now()));
  const by = typeof frame.by === 'string' && frame.by.trim() ? frame.by.trim() : '';
  return by ? t('closed.by', { name: by, time }) : t('closed.byHost', { room: roomName, time });
}

function lineOf(ev) {
  const when = typeof ev.ts === 'string' ? ev.ts.replace('T', ' ').slice(0, 16) : '';
  const name = ev.user?.name ?? t('people.someone');
  if (ev.type === 'join') return `[${when} UTC] ${t('save.joined', { name })}`;
  if (ev.type === 'leave') return `[${when} UTC] ${t('save.left', { name })}`;
  if (ev.type !== 'message') return null;
  const parts = [];
  if (ev.text) parts.push(ev.text);
  if (ev.file) parts.push(t('save.file', { file: ev.file.name, size: formatSize(ev.file.size) }));
  return `[${when} UTC] ${name}: ${parts.join(' ')}`;
}

/** The loaded history as plain text: what "Save conversation" downloads. */
export function conversationText(roomName, events, closedLine) {
  const lines = events.map(lineOf).filter((line) => line !== null);
  return [`${roomName}`, t('save.header', { when: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC` }),
    '', ...lines, '', closedLine, ''].join('\n');
}

function fileNameFor(roomName) {
  const base = roomName.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ').trim().slice(0, 60) || 'conversation';
  return `${base} ${new Date().toISOString().slice(0, 10)}.txt`;
}

/**
 * Show the room as closed by its host, in a banner after `banner` (the "Reconnecting…" line,
 * hidden meanwhile). `frame` is the `closing` event; `events()` gives the history to save;
 * `form` is the composer, disabled while closed. `onReopen()` runs when the same room answers
 * again. The room stops its own connection first. Returns {stop(), text}; stop() removes the
 * banner, its listeners and the timer.
 */
export function mountClosed(banner, frame, { roomName, roomId, events, form, onReopen }) {
  const line = closedText(frame, roomName);

  const save = h('button', { type: 'button', class: 'btn btn-quiet' }, icon('download'), h('span', { text: t('closed.save') }));
  const back = h('button', { type: 'button', class: 'btn btn-quiet', hidden: true }, icon('back', 'flip-rtl'), h('span', { text: t('closed.back') }));
  const closed = h('div', { class: 'closed-banner', role: 'status' },
    h('p', { class: 'closed-text' }, icon('alert'), h('span', { text: line })),
    h('p', { class: 'muted', text: t('closed.note') }),
    h('div', { class: 'closed-actions' }, save, back));
  banner.hidden = true;
  banner.after(closed);
  const controls = form ? [...form.querySelectorAll('textarea, button, input')] : [];
  controls.forEach((el) => { el.disabled = true; });
  const textarea = form?.querySelector('textarea');
  const placeholder = textarea?.placeholder;
  if (textarea) textarea.placeholder = t('closed.placeholder');
  form?.classList.add('is-closed');

  function onSave() {
    const text = conversationText(roomName, events(), line);
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
    const a = h('a', { href: url, download: fileNameFor(roomName), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
  async function onBack() {
    const url = await desktop.lobbyUrl();
    if (url) window.location.href = url;
  }
  save.addEventListener('click', onSave);
  back.addEventListener('click', onBack);
  let stopped = false;
  desktop.isDesktop().then((yes) => { if (yes && !stopped) back.hidden = false; });

  function stop() {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    save.removeEventListener('click', onSave);
    back.removeEventListener('click', onBack);
    closed.remove();
    controls.forEach((el) => { el.disabled = false; });
    if (textarea) textarea.placeholder = placeholder;
    form?.classList.remove('is-closed');
  }

  // The same room may come back (a restart): then reconnect as if nothing happened.
  let timer = 0;
  async function checkBack() {
    try {
      const res = await hostFetch('/api/health', { cache: 'no-store' });
      const health = res.ok ? await res.json() : null;
      if (!stopped && health?.room_id && health.room_id === roomId) {
        stop();
        onReopen?.();
        return;
      }
    } catch { /* still closed */ }
    if (!stopped) timer = setTimeout(checkBack, CHECK_BACK_MS);
  }
  timer = setTimeout(checkBack, CHECK_BACK_MS);
  return { stop, text: line };
}
