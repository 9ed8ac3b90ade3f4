// The desktop app's start screen: rooms nearby (live), host a room, join by address.

import { h } from './dom.js';
import { icon } from './icons.js';
import { parseAddress, plural, safeHref } from './util.js';
import * as store from './storage.js';
import * as desktop from './desktop.js';
import { MAX_NAME_CHARS, logIn } from './join.js';
import { mountHostingCard } from './hosting.js';

const HELP_AFTER_MS = 6000;

function roomRow(peer) {
  const href = safeHref(peer.url);
  const people = Number.isInteger(peer.users) ? plural(peer.users, 'person', 'people') : '';
  const where = peer.self ? 'this computer' : peer.machine || peer.host || '';
  const label = `${peer.name}${where ? `, on ${where}` : ''}${people ? `, ${people}` : ''}${peer.password ? ', password needed' : ''}`;
  return h('li', {},
    h('a', { class: 'room-row', href: href ?? '#', 'aria-label': label, dataset: { url: href ?? '' } },
      h('span', { class: 'room-row-icon', 'aria-hidden': 'true' }, icon('chat')),
      h('span', { class: 'room-row-main' },
        h('span', { class: 'room-row-name', text: peer.name }),
        h('span', { class: 'room-row-host', text: peer.self ? `${where} · ${peer.host}:${peer.port}` : [where, peer.host !== where ? peer.host : ''].filter(Boolean).join(' · ') })),
      h('span', { class: 'room-row-meta' },
        peer.password ? h('span', { class: 'lock', title: 'Password needed' }, icon('lock')) : null,
        h('span', { class: 'room-row-users' }, icon('users'), h('span', { text: Number.isInteger(peer.users) ? String(peer.users) : '–' }))),
      icon('arrow', 'room-row-go')));
}

function mountNearby(section) {
  const list = h('ul', { class: 'room-list', 'aria-label': 'Rooms on your network' });
  const lookingText = h('span', { text: 'Looking for rooms on your network…' });
  const looking = h('p', { class: 'looking' }, h('span', { class: 'pulse', 'aria-hidden': 'true' }), lookingText);
  const empty = h('div', { class: 'empty', role: 'status' }, looking);
  const help = h('div', { class: 'help', hidden: true },
    h('p', { text: 'No rooms found yet. Rooms appear here on their own when someone on your network hosts one. If you expect one:' }),
    h('ul', {},
      h('li', { text: 'Check that you are on the same Wi-Fi or wired network as the host. Guest networks often keep devices apart.' }),
      h('li', { text: 'Some routers and office networks block the discovery traffic (multicast). Ask the host for the room’s address and use “Join by address”.' }),
      h('li', { text: 'A firewall on the host’s computer may block LAN Chat. Allow it on private networks.' })));
  const hostHints = h('ul', { class: 'host-hints', hidden: true });
  empty.append(hostHints, help);
  section.append(h('h2', { id: 'nearby-title', text: 'Rooms nearby' }), list, empty);
  let helpDue = false;
  let hasHints = false;
  // Our general advice after a while, unless the host already said what is wrong.
  const updateHelp = () => { help.hidden = !helpDue || hasHints; };
  setTimeout(() => { helpDue = true; updateHelp(); }, HELP_AFTER_MS);

  function show(peers, status) {
    const hints = Array.isArray(status?.hints) ? status.hints.filter((t) => typeof t === 'string') : [];
    hostHints.replaceChildren(...hints.map((t) => h('li', { text: t })));
    hostHints.hidden = hints.length === 0;
    hasHints = hints.length > 0;
    // With discovery off there is nothing to look for: say so instead of a pulsing promise.
    const off = status?.enabled === false;
    looking.classList.toggle('off', off);
    lookingText.textContent = off ? 'Not looking for rooms' : 'Looking for rooms on your network…';
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
  const roomInput = h('input', { id: 'host-room', type: 'text', value: name ? `${name}'s room` : defaultRoom, required: true, maxLength: 64 });
  const passwordInput = h('input', { id: 'host-password', type: 'password', maxLength: 128, autocomplete: 'new-password', 'aria-describedby': 'host-password-hint' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus'), h('span', { text: 'Host a room' }));
  let roomEdited = false;
  roomInput.addEventListener('input', () => { roomEdited = true; });
  nameInput.addEventListener('input', () => {
    if (!roomEdited) roomInput.value = nameInput.value.trim() ? `${nameInput.value.trim()}'s room` : defaultRoom;
  });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'host-title' },
    h('label', { for: 'host-name', text: 'Your name' }), nameInput,
    h('label', { for: 'host-room', text: 'Room name' }), roomInput,
    h('label', { for: 'host-password', text: 'Password (optional)' }), passwordInput,
    h('p', { id: 'host-password-hint', class: 'muted', text: 'With a password, only people you tell it to can read or join.' }),
    problem, submit);
  const browserNote = h('p', { class: 'muted', hidden: true, text: 'Hosting a room needs the LAN Chat desktop app. From this browser you can join rooms that others host.' });
  section.append(h('h2', { id: 'host-title', text: 'Host a room' }), form, browserNote);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const person = nameInput.value.trim();
    const room = roomInput.value.trim();
    if (!person || !room) {
      problem.textContent = !person ? 'Type your name.' : 'Give the room a name.';
      problem.hidden = false;
      (person ? roomInput : nameInput).focus();
      return;
    }
    problem.hidden = true;
    submit.disabled = true;
    // The desktop app asks in a window of its own before it opens this computer to the LAN.
    submit.lastChild.textContent = 'Confirm in the dialog…';
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
      problem.textContent = `Could not start the room: ${err?.message ?? err}`;
      problem.hidden = false;
      submit.disabled = false;
      submit.lastChild.textContent = 'Host a room';
    }
  });

  desktop.isDesktop().then((yes) => {
    if (yes) return;
    form.hidden = true;
    browserNote.hidden = false;
  });
  return { form, nameInput, setName(value) { if (!nameInput.value) { nameInput.value = value; nameInput.dispatchEvent(new Event('input')); } } };
}

function mountJoinByAddress(section) {
  const input = h('input', { id: 'join-address', type: 'text', placeholder: '192.168.1.20:8765', autocomplete: 'url', inputMode: 'url', spellcheck: false, 'aria-describedby': 'address-hint' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'stack', 'aria-labelledby': 'address-title' },
    h('label', { for: 'join-address', text: 'Room address' }),
    h('div', { class: 'inline-field' }, input, h('button', { type: 'submit', class: 'btn' }, h('span', { text: 'Join' }))),
    h('p', { class: 'hint', id: 'address-hint', text: 'An address like 192.168.1.20:8765, a full link, or the host’s computer name.' }),
    problem);
  section.append(h('h2', { id: 'address-title', text: 'Join by address' }), form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const url = parseAddress(input.value);
    if (!url) {
      problem.textContent = 'That does not look like an address. Try something like 192.168.1.20:8765.';
      problem.hidden = false;
      input.focus();
      return;
    }
    desktop.setPrefs({ name: store.getName(), last_room: url });
    window.location.href = url;
  });
  return { input };
}

export function mountLobby(root, info = null) {
  const name = store.getName();
  const nearby = h('section', { class: 'card nearby', 'aria-labelledby': 'nearby-title' });
  const hostSection = h('section', { class: 'card', 'aria-labelledby': 'host-title' });
  const addressSection = h('section', { class: 'card', 'aria-labelledby': 'address-title' });
  const hostingSection = h('section', { class: 'card hosting-card' });
  // Filled when the window refused a room's certificate (desktop/pinning.py says when).
  const refusal = h('section', { class: 'card refusal', role: 'alert', hidden: true });
  root.replaceChildren(h('div', { class: 'lobby' },
    h('header', { class: 'lobby-header' }, h('div', { class: 'brand' }, icon('chat'), h('span', { text: 'LAN Chat' })),
      h('p', { class: 'muted', text: 'Chat and share files with people on your network. No internet needed.' })),
    refusal,
    hostingSection,
    h('main', { class: 'lobby-grid' }, nearby, h('div', { class: 'lobby-side' }, hostSection, addressSection))));
  mountHostingCard(hostingSection, info);
  desktop.takeRefusal().then((text) => {
    if (!text) return;
    refusal.replaceChildren(h('h2', { text: 'Room not opened: its certificate did not match' }), h('p', { text }));
    refusal.hidden = false;
  });
  document.title = 'LAN Chat';
  mountNearby(nearby);
  // Until a name is typed, suggest the room name this computer's host would use.
  const host = mountHost(hostSection, name, typeof info?.room === 'string' ? info.room : '');
  const address = mountJoinByAddress(addressSection);
  host.nameInput.focus();
  desktop.isDesktop().then((yes) => {
    if (!yes && document.activeElement === host.nameInput) address.input.focus();
  });
  desktop.getPrefs().then((prefs) => {
    if (prefs?.name) host.setName(prefs.name);
  });
}
