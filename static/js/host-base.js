// Where the room is served now. The page came from one host; when the room moves to another
// (a hand-over, or a standby taking over after a crash) the page stays and talks to the new
// host instead: the WebSocket, history pages, uploads, downloads and file links all build
// their addresses here. Cookies belong to the host that served the page, so at any other host
// the page names itself with headers instead (its client id, and the room's session token when
// the room has a password); that host answers such requests only from its room's former hosts.

const CLIENT_HEADER = 'x-lanchat-client';
const SESSION_HEADER = 'x-lanchat-session';

let base = window.location.origin;
let clientId = null;
let session = null;

/** The origin (scheme://host:port) of the host serving the room now. */
export function hostBase() { return base; }

/** The room is served at `url` from now on (any URL of that host: only its origin is kept). */
export function setHostBase(url) { base = originOf(url) ?? base; }

/** Whether the room is served by a host other than the one this page came from. */
export function isForeign() { return base !== window.location.origin; }

/** The origin of `url`, or null when it is not an http(s) URL. */
export function originOf(url) {
  try {
    const u = new URL(url, window.location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

/** What names this page at a host that cannot see its cookies. */
export function setCredentials({ client = clientId, token = session } = {}) {
  clientId = client;
  session = token;
}

/** The room's session token, when a welcome gave one (rooms with a password). */
export function sessionToken() { return session; }

/** `path` (like "/api/files/ab12") at the current host, as an absolute URL. */
export function apiUrl(path, at = base) {
  return new URL(path, `${at}/`).href;
}

/** The chat WebSocket's address at `at` (the current host by default). */
export function wsUrlAt(at = base) {
  const u = new URL('/ws', `${at}/`);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

function foreignHeaders(headers) {
  if (clientId) headers.set(CLIENT_HEADER, clientId);
  if (session) headers.set(SESSION_HEADER, session);
  return headers;
}

/** fetch() of `path` at the current host; at a foreign host, as a CORS request with headers. */
export function hostFetch(path, init = {}) {
  const url = apiUrl(path);
  if (!isForeign()) return fetch(url, init);
  return fetch(url, { ...init, headers: foreignHeaders(new Headers(init.headers)), mode: 'cors', credentials: 'omit' });
}

/** xhr.open() of `path` at the current host, with the headers a foreign host needs. */
export function openAtHost(xhr, method, path) {
  xhr.open(method, apiUrl(path));
  if (!isForeign()) return;
  if (clientId) xhr.setRequestHeader(CLIENT_HEADER, clientId);
  if (session) xhr.setRequestHeader(SESSION_HEADER, session);
}

const blobs = new Map(); // absolute file URL -> Promise of an object URL

/** Show the image at `path` (a host route, like the QR code) in `img`, wherever the room is. */
export function showImage(img, path) {
  if (!isForeign()) {
    img.src = path;
    return img;
  }
  fileUrl(path).then((src) => { img.src = src; }, () => { /* the alt text stays */ });
  return img;
}

/**
 * A URL an <img> or a download link can use for the shared file at `path`: the host's own URL
 * while the page's host serves the room; after a move, the file fetched with the page's headers
 * (a foreign host's cookies and resource policy would refuse a plain link) as a blob: URL.
 */
export function fileUrl(path) {
  const url = apiUrl(path);
  if (!isForeign()) return Promise.resolve(url);
  if (!blobs.has(url)) {
    const made = hostFetch(path).then((res) => {
      if (!res.ok) throw Object.assign(new Error(), { status: res.status });
      return res.blob();
    }).then((blob) => URL.createObjectURL(blob));
    made.catch(() => blobs.delete(url)); // a failure may be asked again later
    blobs.set(url, made);
  }
  return blobs.get(url);
}
