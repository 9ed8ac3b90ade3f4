// Staying on the app while the host is away. Where the platform allows (a secure context:
// https, or localhost), a service worker (sw.js) keeps the app's files so a reload still opens
// the room. Elsewhere (plain http on a LAN address, which is how phones join) nothing can
// serve the page without the host, so the page warns before a reload and says why.

import * as desktop from './desktop.js';
import { t } from './i18n.js';

/** Register the service worker where browsers allow one; quietly nothing elsewhere. */
export async function keepAppOffline() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  try {
    await navigator.serviceWorker.register('/sw.js');
    const ready = await navigator.serviceWorker.ready;
    // The modules this page loaded before the worker was there: ask it to keep them too.
    const keep = performance.getEntriesByType('resource').map((e) => e.name)
      .filter((u) => u.startsWith(window.location.origin + '/') && !u.includes('/api/'));
    ready.active?.postMessage({ keep: [...new Set(keep)] });
  } catch {
    // No worker (storage off, private mode): the reload warning still applies.
  }
}

/** Whether a reload right now would open the app again without the host. */
export function reloadIsSafe() {
  return Boolean(navigator.serviceWorker?.controller);
}

/** What the "Reconnecting…" banner adds, so people neither lose hope nor the page. */
export function offlineNote() {
  return reloadIsSafe()
    ? t('offline.kept')
    : t('offline.dontReload');
}

/**
 * While `isDown()` is true and a reload would land on the browser's error page, ask before
 * leaving. The desktop window closes without asking (its own app shuts down with it).
 * Returns stop().
 */
export function mountReloadGuard(isDown) {
  const onBeforeUnload = (event) => {
    if (!isDown() || reloadIsSafe() || desktop.inDesktopWindow()) return;
    event.preventDefault();
    event.returnValue = '';
  };
  window.addEventListener('beforeunload', onBeforeUnload);
  return () => window.removeEventListener('beforeunload', onBeforeUnload);
}
