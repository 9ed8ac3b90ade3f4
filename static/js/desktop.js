// The desktop app's bridge (pywebview's window.pywebview.api), and what a plain browser does
// instead. Every other module asks here; in a browser each call quietly does the fallback.

import { t } from './i18n.js';

let ready = null;

function bridge() {
  if (!ready) {
    ready = new Promise((resolve) => {
      if (window.pywebview?.api?.get_prefs) {
        resolve(window.pywebview.api);
        return;
      }
      const onReady = () => resolve(window.pywebview?.api ?? null);
      window.addEventListener('pywebviewready', onReady, { once: true });
      // A normal browser never fires pywebviewready; the desktop window fires it soon after load.
      const wait = window.pywebview || /LANChatDesktop|QtWebEngine|pywebview/i.test(navigator.userAgent) ? 8000 : 1500;
      setTimeout(() => {
        window.removeEventListener('pywebviewready', onReady);
        resolve(window.pywebview?.api ?? null);
      }, wait);
    });
  }
  return ready;
}

async function call(method, ...args) {
  const api = await bridge();
  if (!api || typeof api[method] !== 'function') return undefined;
  try {
    return await api[method](...args);
  } catch (err) {
    console.warn(`desktop bridge ${method} failed`, err);
    return undefined;
  }
}

/** A quick guess, without waiting: the desktop window names itself in its User-Agent. */
export function inDesktopWindow() {
  return Boolean(window.pywebview) || /LANChatDesktop/.test(navigator.userAgent);
}

/** True inside the desktop window (waits briefly for the bridge to appear). */
export async function isDesktop() {
  return (await bridge()) !== null;
}

export async function getPrefs() {
  const prefs = await call('get_prefs');
  return prefs && typeof prefs === 'object' ? prefs : null;
}

export function setPrefs(prefs) { return call('set_prefs', prefs); }

/** Ask the desktop to host a room; resolves to the new room's URL, or throws with a reason. */
export async function hostRoom(room, name, password = '') {
  const api = await bridge();
  if (!api) throw new Error(t('desktop.needsApp'));
  let result;
  try {
    result = await api.host_room(password ? { room, name, password } : { room, name });
  } catch (err) {
    throw new Error(err?.message ?? String(err));
  }
  if (!result?.url) throw new Error(result?.error || t('desktop.notStarted'));
  return result.url;
}

export function setUnread(count, room) { return call('set_unread', count, room); }
export function notify(title, body) { return call('notify', title, body); }
export function lobbyUrl() { return call('lobby_url'); }
/** What this machine hosts ({hosting, room?, url?}); null outside the desktop app. */
export async function hostingState() {
  const state = await call('hosting_state');
  return state && typeof state === 'object' ? state : null;
}
export function stopHosting() { return call('stop_hosting'); }
/** The room password just entered in another host's room: the desktop app's standby for that
 *  room needs it too (desktop/standby.py). Nothing happens in a plain browser. */
export function standByWith(password) { return call('stand_by_with', password); }
/** Why the window just refused to open a room (a certificate that did not match), or null. */
export async function takeRefusal() {
  const result = await call('take_refusal');
  return typeof result?.text === 'string' ? result.text : null;
}

/** Open a link outside the window: the system browser in the desktop, a new tab elsewhere. */
export async function openExternal(url) {
  const api = await bridge();
  if (api?.open_external) {
    try { await api.open_external(url); return; } catch { /* fall through */ }
  }
  window.open(url, '_blank', 'noopener,noreferrer');
}

/** In the desktop window, plain links open outside it; downloads and in-app links do not.
 *  Until `signal` aborts, when given. */
export function routeLinksOutside(root, { signal } = {}) {
  root.addEventListener('click', (event) => {
    const a = event.target.closest?.('a[target="_blank"]');
    if (!a || a.hasAttribute('download') || !window.pywebview) return;
    event.preventDefault();
    openExternal(a.href);
  }, { signal });
}
