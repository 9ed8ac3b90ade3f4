// The room's header (name, connection state, people and address chips, the way back to the
// lobby in the desktop app) and the slim "Reconnecting…" banner under it. Both only show the
// state handed down to them; clicks go up through the callbacks.

import { h } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { offlineNote } from './offline.js';
import * as desktop from './desktop.js';

const STATE_KEYS = { online: 'conn.online', connecting: 'conn.connecting', offline: 'conn.offline', refused: 'conn.refused', reading: 'conn.reading' };
const LOOPBACK = /\/\/(127\.|localhost|\[::1\])/;

/** The address to show for the room: one other devices can reach when there is one. */
export function roomAddress(info) {
  const urls = info.urls ?? [];
  const url = urls.find((u) => !LOOPBACK.test(u)) ?? urls[0] ?? window.location.origin;
  return url.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

/**
 * Fills `header` once and updates it in place, so a focused header button keeps focus as people
 * come and go. `onList` shows the conversations (a phone's own screen), `onSearch` the search.
 * Returns { update({roomName, state, count, address, safetyCode, unreadElsewhere}), closed(),
 * stop() }.
 */
export function mountHeader(header, { onBack, onPeople, onAddress, onList, onSearch }) {
  const back = h('button', { type: 'button', class: 'icon-btn', hidden: true, 'aria-label': t('header.back'), title: t('header.back'), onclick: () => onBack() }, icon('back', 'flip-rtl'));
  const listBadge = h('span', { class: 'list-badge', 'aria-hidden': 'true', hidden: true });
  const list = h('button', { type: 'button', class: 'icon-btn list-btn', 'aria-label': t('header.conversations'), title: t('header.conversations'), onclick: () => onList() }, icon('list'), listBadge);
  const search = h('button', { type: 'button', class: 'icon-btn search-btn', 'aria-label': t('header.search'), title: t('header.searchTitle'), 'aria-haspopup': 'dialog', onclick: () => onSearch() }, icon('search'));
  const name = h('h1', { class: 'room-name' });
  const conn = h('p', { class: 'conn' }, h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), h('span', { class: 'conn-text' }));
  // The room's safety code (server/tls.py), for people to compare aloud; hidden without TLS.
  const safety = h('span', { class: 'safety-code' });
  const safetyLine = h('p', { class: 'safety-line', hidden: true, title: t('header.safetyTitle') },
    icon('lock'), h('span', { class: 'safety-label', text: `${t('safety.label')} ` }), safety);
  const count = h('span', { class: 'chip-count' });
  const people = h('button', { type: 'button', class: 'chip', 'aria-haspopup': 'dialog', onclick: () => onPeople() },
    icon('users'), count, ' ', h('span', { class: 'chip-label', text: t('header.online') }));
  const addrText = h('span', { class: 'chip-label addr' });
  const addr = h('button', { type: 'button', class: 'chip', 'aria-haspopup': 'dialog', onclick: () => onAddress() }, icon('qr'), addrText);
  header.replaceChildren(back, list, h('div', { class: 'room-title' }, name, conn, safetyLine), h('div', { class: 'header-actions' }, search, people, addr));

  let stopped = false;
  let inDesktop = false;
  desktop.isDesktop().then((yes) => {
    if (stopped || !yes) return;
    inDesktop = true;
    back.hidden = false;
  });

  return {
    update({ roomName, state, count: n, address, safetyCode = null, unreadElsewhere = 0 }) {
      safetyLine.hidden = !safetyCode;
      safety.textContent = safetyCode ?? '';
      listBadge.hidden = !unreadElsewhere;
      listBadge.textContent = unreadElsewhere > 99 ? '99+' : String(unreadElsewhere);
      list.setAttribute('aria-label', unreadElsewhere ? t('header.conversationsUnread', { count: unreadElsewhere }) : t('header.conversations'));
      back.hidden = !inDesktop;
      name.textContent = roomName;
      name.title = roomName;
      conn.className = `conn conn-${state}`;
      conn.lastChild.textContent = (STATE_KEYS[state] ? t(STATE_KEYS[state]) : '');
      count.textContent = String(n);
      people.setAttribute('aria-label', t('header.people', { count: n })); // starts with what it shows
      addrText.textContent = address;
      addr.setAttribute('aria-label', t('header.address', { address }));
    },
    /** The host closed the room for good. */
    closed() {
      conn.className = 'conn conn-closed';
      conn.lastChild.textContent = t('conn.closed');
    },
    stop() { stopped = true; },
  };
}

/**
 * The "Reconnecting…" line in `banner`: shown from the first drop until the room is back, with
 * a countdown to the next try and a "Try now" button (`onRetry`). Returns { update(connState),
 * isDropped(), hide(), stop() }.
 */
export function mountBanner(banner, { onRetry }) {
  const text = h('span', { class: 'banner-text' });
  const note = h('span', { class: 'banner-note' });
  const retry = h('button', { type: 'button', class: 'link-btn', text: t('banner.tryNow'), onclick: () => onRetry() });
  banner.replaceChildren(icon('wifi'), text, retry, note);
  let conn = { state: 'connecting' };
  let dropped = false;

  function render() {
    const { state, retryAt, reason } = conn;
    const reading = state === 'reading'; // no host: a standby reads the room's copy out
    banner.classList.toggle('banner-reading', reading);
    retry.hidden = reading;
    if (reading) {
      dropped = true;
      banner.hidden = false;
      text.textContent = t('banner.readOnly', { machine: conn.machine || '?' });
      note.textContent = '';
      text.title = '';
      return;
    }
    if (state === 'online' || state === 'refused') dropped = false;
    else if (state === 'offline') dropped = true;
    banner.hidden = !dropped;
    if (!dropped) return;
    const secs = state === 'offline' ? Math.max(0, Math.ceil(((retryAt ?? Date.now()) - Date.now()) / 1000)) : 0;
    // After a loss the page tries the host, then its successors: say when it is at those.
    const line = conn.next ? t('banner.nextHost')
      : secs > 0 ? t('banner.nextTry', { count: secs }) : t('banner.reconnecting');
    if (text.textContent !== line) text.textContent = line;
    const words = offlineNote();
    if (note.textContent !== words) note.textContent = words;
    text.title = reason || '';
  }

  const tick = setInterval(render, 1000);
  return {
    update(state) { conn = state; render(); },
    isDropped: () => dropped,
    hide() { banner.hidden = true; },
    stop() { clearInterval(tick); },
  };
}
