// Uploads that survive a dropped link or a host restart: the file goes in pieces to
// /api/files/uploads/<id>; when the host goes away the card says so in plain words, and once
// the host answers again the upload continues from the offset the host has. A host without
// these routes (an older version) gets the one-shot upload instead.

import { UploadFailed, uploadFile } from './upload.js';
import { backoffDelay } from './util.js';
import { uploadRefusal } from './errors.js';
import { t } from './i18n.js';
import { hostFetch, openAtHost } from './host-base.js';

const RETRY_CAP_MS = 5000;

/** The host's answer as an UploadFailed; its English detail stays out of the person's view. */
function refusal(status) {
  const kind = status === 413 ? 'too_large' : status === 507 ? 'disk_full' : 'refused';
  return new UploadFailed(kind, uploadRefusal(status));
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
    xhr.addEventListener('abort', () => reject(new UploadFailed('cancelled', t('upload.cancelled'))));
    openAtHost(xhr, 'PATCH', url);
    xhr.setRequestHeader('Upload-Offset', String(offset));
    xhr.send(blob);
  });
}

async function askOffset(url) {
  const res = await hostFetch(url, { cache: 'no-store' });
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
    if (cancelled) throw new UploadFailed('cancelled', t('upload.cancelled'));
  };
  const wait = (ms) => new Promise((resolve) => { const t = setTimeout(resolve, ms); wake = () => { clearTimeout(t); resolve(); }; });

  async function start() {
    let res;
    try {
      res = await hostFetch('/api/files/uploads', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: file.name, size: file.size }),
      });
    } catch {
      throw new UploadFailed('disconnected', t('upload.disconnectedBefore'));
    }
    if (res.status === 404 || res.status === 405) return null; // an older host
    const body = await res.json().catch(() => null);
    if (res.status !== 201 || typeof body?.url !== 'string') throw refusal(res.status);
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
      if (answer && answer.status < 500 && answer.status !== 0) throw refusal(answer.status);
      // The link broke or the host is restarting: wait for it, then ask where to go on from.
      onPause(t('upload.paused'));
      for (;;) {
        await wait(backoffDelay(attempt, Math.random, RETRY_CAP_MS));
        attempt += 1;
        checkCancel();
        try {
          offset = await askOffset(up.url);
          onProgress(file.size ? offset / file.size : 1);
          break;
        } catch (err) {
          if (err.status === 404 || err.status === 403) throw refusal(err.status);
        }
      }
    }
  }

  return {
    promise: run(),
    abort() {
      cancelled = true;
      if (upUrl) hostFetch(upUrl, { method: 'DELETE' }).catch(() => {}); // frees the host's space
      fallback?.abort();
      current?.abort();
      wake?.();
    },
  };
}
