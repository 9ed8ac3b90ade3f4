// LAN Chat's service worker: keeps the app's own files so that a page reloaded while the host
// is unreachable opens the room (with its outbox) instead of the browser's error page.
//
// Browsers run service workers only in secure contexts: https, or http on localhost/127.0.0.1
// (the desktop window and the host's own browser). A phone opening http://192.168.x.y does not
// get one; there the page asks people not to reload while the host is away (offline.js).
//
// Network first, always: when the host answers, its files are used (and kept); the copy is used
// only when it does not. The chat itself (/api/, /ws) is never touched here.

const CACHE = 'lanchat-shell-v2';
// The language a page uses is kept when it loads it (network first, below); English is always
// kept, as every other language falls back to it.
const SHELL = ['/', '/css/app.css', '/css/i18n.css', '/js/main.js', '/js/i18n.js', '/i18n/en.json', '/icon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

function isShell(url) {
  return url.origin === self.location.origin && !url.pathname.startsWith('/api/')
    && url.pathname !== '/ws' && url.pathname !== '/sw.js';
}

/** The cache key: every page of the app is the one index.html. */
function keyOf(request) {
  return request.mode === 'navigate' ? '/' : request.url.split('?')[0];
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') await cache.put(keyOf(request), response.clone());
    return response;
  } catch (error) {
    const copy = await cache.match(keyOf(request));
    if (copy) return copy;
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || !isShell(new URL(request.url))) return;
  event.respondWith(networkFirst(request));
});

// The page lists the files it loaded before this worker took over (its modules), to keep them.
self.addEventListener('message', (event) => {
  const urls = Array.isArray(event.data?.keep) ? event.data.keep : [];
  const mine = urls.filter((u) => typeof u === 'string' && isShell(new URL(u, self.location.origin)));
  event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(mine.map(async (u) => {
    if (!(await cache.match(u))) await cache.add(u).catch(() => {});
  }))));
});
