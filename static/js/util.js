// Pure helpers: no DOM, no storage, no network. Everything here can be reasoned about alone.

/** A random UUID v4. crypto.randomUUID exists only on secure origins, and a LAN room is http. */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/** Delay before reconnect attempt `attempt` (0-based): doubling, capped, half of it random. */
export function backoffDelay(attempt, random = Math.random, capMs = 15000) {
  const ceiling = Math.min(capMs, 1000 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?'")\]}]+$/;

/** Split text into plain runs and http(s) links. Trailing punctuation stays outside a link. */
export function linkify(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let url = match[0];
    const trail = url.match(TRAILING);
    if (trail) {
      // Keep a closing bracket that belongs to the URL, like wiki links "…_(film)".
      let cut = trail[0];
      if (cut.startsWith(')') && (url.match(/\(/g) || []).length > (url.slice(0, -cut.length).match(/\)/g) || []).length) {
        cut = cut.slice(1);
      }
      url = url.slice(0, url.length - cut.length);
    }
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: url, href: url });
    last = match.index + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Only links that cannot run script: http(s) anywhere, or this host's own file URLs. */
export function safeHref(href) {
  if (typeof href !== 'string') return null;
  if (/^\/api\/files\/[0-9a-f]{32}$/.test(href)) return href;
  try {
    const url = new URL(href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

export const DEFAULT_PORT = 8765;

/**
 * What the user typed in "Join by address" as a room URL, or null.
 * Accepts `192.168.1.20:8765`, `http://host:port/`, or a bare host name (default port assumed).
 */
export function parseAddress(input) {
  const text = String(input ?? '').trim();
  if (!text || /\s/.test(text)) return null;
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  if (hasScheme && !/^https?:\/\//i.test(text)) return null;
  let url;
  try {
    const scheme = hasScheme ? '' : 'http://';
    url = new URL(scheme + text);
  } catch {
    return null;
  }
  if (!url.hostname) return null;
  if (!hasScheme && !url.port) url.port = String(DEFAULT_PORT);
  return `${url.protocol}//${url.host}${url.pathname === '' ? '/' : url.pathname}`;
}

export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

const GROUP_GAP_MS = 5 * 60 * 1000;

/** Whether message `ev` sits under the same name and time as the message before it. */
export function groupsWith(prev, ev) {
  if (!prev || prev.type !== 'message' || ev.type !== 'message') return false;
  if (prev.user?.id !== ev.user?.id) return false;
  const a = new Date(prev.ts);
  const b = new Date(ev.ts);
  return dayKey(a) === dayKey(b) && b - a < GROUP_GAP_MS && b >= a;
}

/** Merge events into a list sorted by id, without duplicates. Returns the new list. */
export function mergeEvents(list, incoming) {
  const byId = new Map(list.map((e) => [e.id, e]));
  for (const ev of incoming) if (Number.isInteger(ev?.id)) byId.set(ev.id, ev);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

export const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp',
  'image/avif', 'image/bmp']);
