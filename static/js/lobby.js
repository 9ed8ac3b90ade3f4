// The desktop app's start screen: rooms nearby (live), host a room, join by address.

import { h } from './dom.js';
import { icon } from './icons.js';
import { parseAddress, safeHref } from './util.js';
import { formatNumber, languagePicker, t } from './i18n.js';
import * as store from './storage.js';
import * as desktop from './desktop.js';
import { MAX_NAME_CHARS, logIn } from './join.js';
import { mountHostingCard } from './hosting.js';

const HELP_AFTER_MS = 6000;

function roomRow(peer) {
  const href = safeHref(peer.url);
  const where = peer.self ? t('lobby.thisComputer') : peer.machine || peer.host || '';
  // One sentence per case, so each language orders its own words.
  const parts = [where ? t('lobby.rowWhere', { room: peer.name, where }) : peer.name];
  if (Number.isInteger(peer.users)) parts.push(t('lobby.rowPeople', { count: peer.users }));
  if (peer.password) parts.push(t('lobby.rowPassword'));
  const label = parts.join(t('lobby.rowSeparator'));
  return h('li', {},
    h('a', { class: 'room-row', href: href ?? '#', 'aria-label': label, dataset: { url: href ?? '' } },
      h('span', { class: 'room-row-icon', 'aria-hidden': 'true' }, icon('chat')),
      h('span', { class: 'room-row-main' },
        h('span', { class: 'room-row-name', text: peer.name }),
        h('span', { class: 'room-row-host', text: peer.self ? `${where} · ${peer.host}:${peer.port}` : [where, peer.host !== where ? peer.host : ''].filter(Boolean).join(' · ') })),
      h('span', { class: 'room-row-meta' },
        peer.password ? h('span', { class: 'lock', title: t('lobby.passwordNeeded') }, icon('lock')) : null,
        h('span', { class: 'room-row-users' }, icon('users'), h('span', { text: Number.isInteger(peer.users) ? formatNumber(peer.users) : '–' }))),
      icon('arrow', 'room-row-go flip-rtl')));
}

const HINT_KEYS = new Map([['off', 'lobby.hintOff'], ['broken', 'lobby.hintBroken'], ['no_lan', 'lobby.hintNoLan'],
  ['unreachable', 'lobby.hintUnreachable'], ['none_found', 'lobby.hintNoneFound']]);

/** What the host says about its discovery, in the person's language: by `hint_codes`, and the
 *  host's English sentence only for a code this page does not know (or an older host). */
function hintTexts(status) {
  const texts = Array.isArray(status?.hints) ? status.hints : [];
  const codes = Array.isArray(status?.hint_codes) ? status.hint_codes : [];
  const unreachable = Array.isArray(status?.unreachable) ? status.unreachable.length : 0;
  return texts.map((text, i) => {
    const key = HINT_KEYS.get(codes[i]);
    return key ? t(key, { count: unreachable }) : text;
  }).filter((text) => typeof text === 'string' && text);
}

function mountNearby(section) {
  const list = h('ul', { class: 'room-list', 'aria-label': t('lobby.roomsLabel') });
  const lookingText = h('span', { text: t('lobby.looking') });
  const looking = h('p', { class: 'looking' }, h('span', { class: 'pulse', 'aria-hidden': 'true' }), lookingText);
  const empty = h('div', { class: 'empty', role: 'status' }, looking);
  const help = h('div', { class: 'help', hidden: true },
    h('p', { text: t('lobby.helpIntro') }),
    h('ul', {},
      h('li', { text: t('lobby.helpNetwork') }),
      h('li', { text: t('lobby.helpMulticast') }),
      h('li', { text: t('lobby.helpFirewall') })));
  const hostHints = h('ul', { class: 'host-hints', hidden: true });
  empty.append(hostHints, help);
  section.append(h('h2', { id: 'nearby-title', text: t('lobby.nearbyTitle') }), list, empty);
  let helpDue = false;
  let hasHints = false;
  // Our general advice after a while, unless the host already said what is wrong.
  const updateHelp = () => { help.hidden = !helpDue || hasHints; };
  setTimeout(() => { helpDue = true; updateHelp(); }, HELP_AFTER_MS);

  function show(peers, status) {
    const hints = hintTexts(status);
    hostHints.replaceChildren(...hints.map((text) => h('li', { text })));
    hostHints.hidden = hints.length === 0;
    hasHints = hints.length > 0;
    // With discovery off there is nothing to look for: say so instead of a pulsing promise.
    const off = status?.enabled === false;
    looking.classList.toggle('off', off);
    lookingText.textContent = off ? t('lobby.notLooking') : t('lobby.looking');
    updateHelp();
    const rows = [...peers].filter((p) => p && p.name && p.url)
      .sort((a, b) => a.name.localeCompare(b.name) || String(a.host).localeCompare(String(b.host)));
    list.replaceChildren(...rows.map(roomRow));
    list.hidden = rows.length === 0;
    empty.hidden = rows.length > 0;
  }
  show([]);

  list.addEventListener('click', (event) => {
    const a = event.target.closest('a.room-row');
    if (!a || !a.dataset.url) return;
    event.preventDefault();
    desktop.setPrefs({ name: store.getName(), last_room: a.dataset.url });
    window.location.href = a.dataset.url;
  });

  // The list, then live updates; an older host without discovery answers 404: keep looking.
  fetch('/api/peers', { cache: 'no-store' })
    .then((res) => (res.ok ? res.json() : null))
    .then((data) => {
      if (!data) return;
      show(data.peers ?? [], data.status);
      const stream = new EventSource('/api/peers/stream');
      stream.addEventListener('message', (e) => {
        try { const d = JSON.parse(e.data); show(d.peers ?? [], d.status); } catch { /* ignore a torn event */ }
      });
    })
    .catch(() => {});
}

function mountHost(section, name, defaultRoom = '') {
  const nameInput = h('input', { id: 'host-name', type: 'text', value: name, required: true, maxLength: MAX_NAME_CHARS, autocomplete: 'nickname' });
  const roomInput = h('input', { id: 'host-room', type: 'text', value: name ? t('lobby.defaultRoom', { name }) : defaultRoom, required: true, maxLength: 64 });
  const passwordInput = h('input', { id: 'host-password', type: 'password', maxLength: 128, autocomplete: 'new-password', 'aria-describedby': 'host-password-hint' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus'), h('span', { text: t('lobby.hostSubmit') }));
  let roomEdited = false;
  roomInput.addEventListener('input', () => { roomEdited = true; });
  nameInput.addEventListener('input', () => {
    if (!roomEdited) roomInput.value = nameInput.value.trim() ? t('lobby.defaultRoom', { name: nameInput.value.trim() }) : defaultRoom;
  });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'host-title' },
    h('label', { for: 'host-name', text: t('form.yourName') }), nameInput,
    h('label', { for: 'host-room', text: t('lobby.roomName') }), roomInput,
    h('label', { for: 'host-password', text: t('lobby.passwordOptional') }), passwordInput,
    h('p', { id: 'host-password-hint', class: 'muted', text: t('lobby.passwordHint') }),
    problem, submit);
  const browserNote = h('p', { class: 'muted', hidden: true, text: t('lobby.browserNote') });
  section.append(h('h2', { id: 'host-title', text: t('lobby.hostTitle') }), form, browserNote);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const person = nameInput.value.trim();
    const room = roomInput.value.trim();
    if (!person || !room) {
      problem.textContent = !person ? t('lobby.typeName') : t('lobby.typeRoom');
      problem.hidden = false;
      (person ? roomInput : nameInput).focus();
      return;
    }
    problem.hidden = true;
    submit.disabled = true;
    // The desktop app asks in a window of its own before it opens this computer to the LAN.
    submit.lastChild.textContent = t('lobby.confirmInDialog');
    store.setName(person);
    try {
      const password = passwordInput.value;
      const url = await desktop.hostRoom(room, person, password);
      await desktop.setPrefs({ name: person, last_room: url });
      if (password) {
        // The new room is served from this same origin: sign the host's own window in.
        const refusal = await logIn(password);
        if (refusal) throw new Error(refusal);
      }
      window.location.href = url;
    } catch (err) {
      problem.textContent = t('lobby.hostFailed', { reason: err?.message ?? String(err) });
      problem.hidden = false;
      submit.disabled = false;
      submit.lastChild.textContent = t('lobby.hostSubmit');
    }
  });

  desktop.isDesktop().then((yes) => {
    if (yes) return;
    form.hidden = true;
    browserNote.hidden = false;
  });
  return {
    form,
    nameInput,
    setName(value) { if (!nameInput.value) { nameInput.value = value; nameInput.dispatchEvent(new Event('input')); } },
    /** The room name to suggest while no name is typed (this computer's host's default). */
    setDefaultRoom(value) {
      if (defaultRoom === value) return;
      defaultRoom = value;
      if (!roomEdited && !nameInput.value.trim()) roomInput.value = value;
    },
  };
}

function mountJoinByAddress(section) {
  const input = h('input', { id: 'join-address', type: 'text', placeholder: '192.168.1.20:8765', autocomplete: 'url', inputMode: 'url', spellcheck: false, 'aria-describedby': 'address-hint' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'address-title' },
    h('label', { for: 'join-address', text: t('lobby.addressLabel') }),
    h('div', { class: 'inline-field' }, input, h('button', { type: 'submit', class: 'btn' }, h('span', { text: t('form.join') }))),
    h('p', { class: 'hint', id: 'address-hint', text: t('lobby.addressHint', { example: '192.168.1.20:8765' }) }),
    problem);
  section.append(h('h2', { id: 'address-title', text: t('lobby.addressTitle') }), form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const url = parseAddress(input.value);
    if (!url) {
      problem.textContent = t('lobby.badAddress', { example: '192.168.1.20:8765' });
      problem.hidden = false;
      input.focus();
      return;
    }
    desktop.setPrefs({ name: store.getName(), last_room: url });
    window.location.href = url;
  });
  return { input };
}

/** The desktop app's own settings: for now whether it stands by for the rooms it is in (keeps
 *  a copy, ready to host the room if its host leaves). Hidden in a plain browser. */
function mountAppPrefs(section) {
  const box = h('input', { id: 'pref-standby', type: 'checkbox', 'aria-describedby': 'pref-standby-hint' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  section.append(h('h2', { id: 'prefs-title', text: t('lobby.prefsTitle') }),
    h('div', { class: 'check-row' }, box, h('label', { for: 'pref-standby', text: t('lobby.standbyLabel') })),
    h('p', { id: 'pref-standby-hint', class: 'hint', text: t('lobby.standbyHint') }), problem);
  section.hidden = true;
  desktop.getPrefs().then((prefs) => {
    if (!prefs) return;
    box.checked = prefs.standby !== false;
    section.hidden = false;
  });
  box.addEventListener('change', async () => {
    const result = await desktop.setPrefs({ standby: box.checked });
    problem.hidden = !result?.error;
    problem.textContent = result?.error ? t('lobby.prefsFailed', { reason: result.error }) : '';
    if (result?.prefs) box.checked = result.prefs.standby !== false;
  });
}

export function mountLobby(root, info = null) {
  const name = store.getName();
  const nearby = h('section', { class: 'card nearby', 'aria-labelledby': 'nearby-title' });
  const hostSection = h('section', { class: 'card', 'aria-labelledby': 'host-title' });
  const addressSection = h('section', { class: 'card', 'aria-labelledby': 'address-title' });
  const hostingSection = h('section', { class: 'card hosting-card' });
  const prefsSection = h('section', { class: 'card prefs-card', 'aria-labelledby': 'prefs-title' });
  // Filled when the window refused a room's certificate (desktop/pinning.py says when).
  const refusal = h('section', { class: 'card refusal', role: 'alert', hidden: true });
  root.replaceChildren(h('div', { class: 'lobby' },
    h('header', { class: 'lobby-header' }, h('div', { class: 'brand' }, icon('chat'), h('h1', { class: 'brand-name', text: t('app.name') })),
      h('p', { class: 'muted', text: t('lobby.tagline') }), languagePicker()),
    refusal,
    hostingSection,
    h('main', { class: 'lobby-grid' }, h('div', { class: 'lobby-side' }, nearby, prefsSection),
      h('div', { class: 'lobby-side' }, hostSection, addressSection))));
  const hosting = mountHostingCard(hostingSection, info);
  desktop.takeRefusal().then((text) => {
    if (!text) return;
    refusal.replaceChildren(h('h2', { text: t('lobby.refusedTitle') }), h('p', { text }));
    refusal.hidden = false;
  });
  document.title = t('app.name');
  mountNearby(nearby);
  // Until a name is typed, suggest the room name this computer's host would use.
  const host = mountHost(hostSection, name, typeof info?.room === 'string' ? info.room : '');
  const address = mountJoinByAddress(addressSection);
  mountAppPrefs(prefsSection);
  host.nameInput.focus();
  desktop.isDesktop().then((yes) => {
    if (!yes && document.activeElement === host.nameInput) address.input.focus();
  });
  desktop.getPrefs().then((prefs) => {
    if (prefs?.name) host.setName(prefs.name);
  });
  return {
    /** This host's /api/room answer, when it comes after the lobby showed. */
    setInfo(fresh) {
      hosting.setInfo(fresh);
      host.setDefaultRoom(typeof fresh?.room === 'string' ? fresh.room : '');
    },
  };
}
