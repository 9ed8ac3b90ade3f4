// What this browser remembers: name, client id, a bounded cache of each room's events, the
// outbox. localStorage is per origin, so every key here is already per host. Storage can be
// missing or full (private windows): then everything still works, just without memory.

const CACHE_LIMIT = 200;
const MAX_CACHED_ROOMS = 5;

function area() {
  try {
    const s = window.localStorage;
    s.setItem('lanchat.probe', '1');
    s.removeItem('lanchat.probe');
    return s;
  } catch {
    return null;
  }
}

const local = area();
const memory = new Map();

function read(key, fallback = null) {
  try {
    const raw = local ? local.getItem(key) : memory.get(key);
    return raw == null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  const raw = JSON.stringify(value);
  try {
    if (local) local.setItem(key, raw);
    else memory.set(key, raw);
  } catch {
    memory.set(key, raw);
  }
}

function remove(key) {
  try { local?.removeItem(key); } catch { /* nothing to forget */ }
  memory.delete(key);
}

export function getName() { return read('lanchat.name', ''); }
export function setName(name) { write('lanchat.name', name); }

export function clientId(make) {
  let id = read('lanchat.client_id');
  if (typeof id !== 'string' || !id) {
    id = make();
    write('lanchat.client_id', id);
  }
  return id;
}

/** Let the host know this browser on HTTP routes too (its private history and files). */
export function shareClientId(id) {
  document.cookie = `lanchat_client=${encodeURIComponent(id)}; path=/; max-age=31536000; SameSite=Strict`;
}

/** The last event id this person saw in a room, for the "new messages" line. */
export function lastRead(roomId) {
  const id = read(`lanchat.read.${roomId}`);
  return Number.isInteger(id) ? id : null;
}
export function setLastRead(roomId, id) { write(`lanchat.read.${roomId}`, id); }

export function roomInfo() { return read('lanchat.room_info'); }
export function setRoomInfo(info) { write('lanchat.room_info', info); }

export function hasJoined(roomId) { return read(`lanchat.joined.${roomId}`, false) === true; }
export function markJoined(roomId) { write(`lanchat.joined.${roomId}`, true); }
export function forgetJoined(roomId) { remove(`lanchat.joined.${roomId}`); }

export function notifyLevel() { return read('lanchat.notify', 'off'); }
export function setNotifyLevel(level) { write('lanchat.notify', level); }

export function me() { return read('lanchat.me'); }
export function setMe(user) { write('lanchat.me', user); }

export function loadEvents(roomId) {
  const cached = read(`lanchat.events.${roomId}`, []);
  return Array.isArray(cached) ? cached.filter((e) => Number.isInteger(e?.id)) : [];
}

export function saveEvents(roomId, events) {
  write(`lanchat.events.${roomId}`, events.slice(-CACHE_LIMIT));
  const rooms = read('lanchat.cached_rooms', []).filter((r) => r !== roomId);
  rooms.push(roomId);
  for (const old of rooms.splice(0, Math.max(0, rooms.length - MAX_CACHED_ROOMS))) {
    remove(`lanchat.events.${old}`);
  }
  write('lanchat.cached_rooms', rooms);
}

export function dropEvents(roomId) { remove(`lanchat.events.${roomId}`); }

// The outbox is read and written whole each time, so two tabs of one room stay consistent.
export function loadOutbox() {
  const items = read('lanchat.outbox', []);
  return Array.isArray(items) ? items.filter((i) => typeof i?.cmid === 'string') : [];
}
export function saveOutbox(items) { write('lanchat.outbox', items); }

/** Where a room was served last, and its successors: a page reloaded after the room moved
 *  (its own host gone) finds the room there. */
export function follow(roomId) { return read(`lanchat.follow.${roomId}`); }
export function setFollow(roomId, where) { write(`lanchat.follow.${roomId}`, where); }

// Messages a host acknowledged in the last minutes, kept to resend if the room moves (outbox.js).
export function loadSent() {
  const items = read('lanchat.sent', []);
  return Array.isArray(items) ? items.filter((i) => typeof i?.cmid === 'string') : [];
}
export function saveSent(items) { write('lanchat.sent', items); }
