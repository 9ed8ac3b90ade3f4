// Uploads that survive a dropped link or a host restart: the file goes in pieces to
// /api/files/uploads/<id>; when the host goes away the card says so in plain words, and once
// the host answers again the upload continues from the offset the host has. A host without
// these routes (an older version) gets the one-shot upload instead.

import { UploadFailed, uploadFile } from './upload.js';
import { backoffDelay } from './util.js';

const RETRY_CAP_MS = 5000;

function detailOf(body) {
  return typeof body?.detail === 'string' ? body.detail : '';
}

function refusal(status, body) {
  const detail = detailOf(body);
  if (status === 413) return new UploadFailed('too_large', `Too large: ${detail || 'over the room’s limit'}.`);
  if (status === 507) return new UploadFailed('disk_full', `The host has no room for it: ${detail || 'disk full'}.`);
  return new UploadFailed('refused', detail ? `Upload refused: ${detail}.` : 'The host refused the upload.');
}

/** One PATCH of bytes from `offset`; resolves {status, body}; rejects on a broken link. */
function sendPiece(url, offset, blob, onLoaded, track) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    track(xhr);
    xhr.upload.addEventListener('progress', (e) => onLoaded(e.loaded));
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener('error', () => reject(new Error('link')));
    xhr.addEventListener('abort', () => reject(new UploadFailed('cancelled', 'Upload cancelled.')));
    xhr.open('PATCH', url);
    xhr.setRequestHeader('Upload-Offset', String(offset));
    xhr.send(blob);
  });
}

async function askOffset(url) {
  const res = await fetch(url, { cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (res.ok && Number.isInteger(body?.offset)) return body.offset;
  throw Object.assign(new Error('status'), { status: res.status, body });
}

/**
 * Start uploading `file`. `onProgress(fraction)`; `onPause(text | null)`: why the upload
 * waits (the host went away), or null once it moves again. Returns {promise, abort()} like
 * uploadFile: the promise resolves to the shared file's info.
 */
export function uploadResumable(file, onProgress, onPause = () => {}) {
  let current = null;
  let cancelled = false;
  let fallback = null;
  let wake = null;
  let upUrl = null;
  const track = (xhr) => { current = xhr; };
  const checkCancel = () => {
    if (cancelled) throw new UploadFailed('cancelled', 'Upload cancelled.');
  };
  const wait = (ms) => new Promise((resolve) => { const t = setTimeout(resolve, ms); wake = () => { clearTimeout(t); resolve(); }; });

  async function start() {
    let res;
    try {
      res = await fetch('/api/files/uploads', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: file.name, size: file.size }),
      });
    } catch {
      throw new UploadFailed('disconnected', 'Disconnected from the host before the upload started.');
    }
    if (res.status === 404 || res.status === 405) return null; // an older host
    const body = await res.json().catch(() => null);
    if (res.status !== 201 || typeof body?.url !== 'string') throw refusal(res.status, body);
    return body;
  }

  async function run() {
    const up = await start();
    upUrl = up?.url ?? null;
    checkCancel();
    if (!up) {
      fallback = uploadFile(file, onProgress);
      return fallback.promise;
    }
    const chunk = Number.isInteger(up.chunk_bytes) && up.chunk_bytes > 0 ? up.chunk_bytes : 8 * 1024 * 1024;
    let offset = 0;
    let attempt = 0;
    for (;;) {
      checkCancel();
      const piece = file.slice(offset, Math.min(file.size, offset + chunk));
      let answer = null;
      try {
        answer = await sendPiece(up.url, offset, piece, (loaded) => onProgress(file.size ? (offset + loaded) / file.size : 1), track);
      } catch (err) {
        if (err instanceof UploadFailed) throw err;
      }
      if (answer && answer.status === 200 && Number.isInteger(answer.body?.offset)) {
        offset = answer.body.offset;
        attempt = 0;
        onPause(null);
        onProgress(file.size ? offset / file.size : 1);
        if (answer.body.file) return answer.body.file;
        continue;
      }
      if (answer && answer.status === 409 && Number.isInteger(answer.body?.offset)) {
        offset = answer.body.offset;
        await wait(300);
        continue;
      }
      if (answer && answer.status < 500 && answer.status !== 0) throw refusal(answer.status, answer.body);
      // The link broke or the host is restarting: wait for it, then ask where to go on from.
      onPause('The host went away during the upload. It goes on from where it stopped when the host is back.');
      for (;;) {
        await wait(backoffDelay(attempt, Math.random, RETRY_CAP_MS));
        attempt += 1;
        checkCancel();
        try {
          offset = await askOffset(up.url);
          onProgress(file.size ? offset / file.size : 1);
          break;
        } catch (err) {
          if (err.status === 404 || err.status === 403) throw refusal(err.status, err.body);
        }
      }
    }
  }

  return {
    promise: run(),
    abort() {
      cancelled = true;
      if (upUrl) fetch(upUrl, { method: 'DELETE' }).catch(() => {}); // frees the host's space
      fallback?.abort();
      current?.abort();
      wake?.();
    },
  };
}
