// Boot: ask the host what it is, then show the lobby, a room's join prompt, or the room.

import { h } from './dom.js';
import { icon } from './icons.js';
import { mountLobby } from './lobby.js';
import { mountJoin } from './join.js';
import * as store from './storage.js';
import * as desktop from './desktop.js';
import { mountDownloadNotices } from './notice.js';
import { keepAppOffline } from './offline.js';
import { initI18n, t } from './i18n.js';

const app = document.getElementById('app');
let room = null;

async function fetchRoomInfo() {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const res = await fetch('/api/room', { signal: ctl.signal, cache: 'no-store' });
    if (!res.ok) throw Object.assign(new Error('status'), { status: res.status }); // never shown
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

// The room's modules load when a room opens: the lobby and the join prompt show without them.
async function showRoom(info, name) {
  const { mountRoom } = await import('./room.js');
  // One room at a time: the one before leaves no listener, timer or upload behind.
  room?.stop();
  const current = mountRoom(app, info, name, {
    async onRefused(reason) {
      current.stop();
      if (room === current) room = null;
      store.forgetJoined(info.room_id);
      // Ask again: the room may have changed (a password set, a new name).
      let fresh = info;
      try { fresh = await fetchRoomInfo(); } catch { /* keep what we had */ }
      showJoin(fresh, t('join.refused', { reason }));
    },
  });
  room = current;
  keepAppOffline(); // the room's modules, loaded just now, are kept for a reload offline too
}

function showJoin(info, error = '') {
  mountJoin(app, info, {
    name: store.getName(),
    error,
    onJoin(name) {
      store.setName(name);
      store.markJoined(info.room_id);
      desktop.setPrefs({ name, last_room: window.location.origin + '/' });
      showRoom(info, name).catch(showUnreachable);
    },
  });
}

function showUnreachable() {
  const retry = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => boot() }, icon('retry'), h('span', { text: t('unreachable.retry') }));
  app.replaceChildren(h('main', { class: 'center-page' }, h('div', { class: 'card join-card', role: 'alert' },
    h('div', { class: 'brand' }, icon('chat'), h('span', { text: t('app.name') })),
    h('h1', { text: t('unreachable.title') }),
    h('p', { text: t('unreachable.body') }),
    retry)));
  setTimeout(() => { if (!room && app.contains(retry)) boot(); }, 5000);
}

// The lobby shows at once (the host answers its files before the rest of it is up) and
// learns what this host is when it answers.
function showLobbyNow() {
  const lobby = mountLobby(app, store.roomInfo());
  fetchRoomInfo().then((info) => {
    store.setRoomInfo(info);
    lobby.setInfo(info);
  }, () => { /* the lobby works without it */ });
}

async function boot() {
  if (window.location.hash === '#lobby') {
    showLobbyNow();
    return;
  }
  let info = null;
  try {
    info = await fetchRoomInfo();
    store.setRoomInfo(info);
  } catch {
    // Offline: the room this page last saw, so pending messages stay visible and wait.
    info = store.roomInfo();
  }
  if (info?.hosting === false) {
    mountLobby(app, info);
    return;
  }
  if (!info) {
    showUnreachable();
    return;
  }
  let name = store.getName();
  if (desktop.inDesktopWindow() && !store.hasJoined(info.room_id)) {
    // The desktop window forgets page storage between runs; its own prefs remember. Right
    // after "Host a room" they name this very room, so go straight in.
    const prefs = await desktop.getPrefs();
    const here = window.location.origin + '/';
    if (prefs?.name && prefs.last_room === here) {
      name = prefs.name;
      store.setName(name);
      store.markJoined(info.room_id);
    }
  }
  const locked = info.password && !info.member;
  if (name && store.hasJoined(info.room_id) && !locked) await showRoom(info, name).catch(showUnreachable);
  else showJoin(info);
}

window.addEventListener('hashchange', () => window.location.reload());
// The words come first: everything mounted after this speaks the person's language.
await initI18n();
mountDownloadNotices(document.body);
boot();
keepAppOffline();
