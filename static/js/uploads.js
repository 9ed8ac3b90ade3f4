// Files on their way to the host: dropped anywhere on the window (with the drop overlay),
// picked or pasted in the composer. Each shows as a card with its progress until the host has
// it; then it goes out through the outbox like any message.

import { uploadResumable } from './resume-upload.js';
import { uuid, INLINE_IMAGES } from './util.js';
import { formatSize, t } from './i18n.js';

const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');

/**
 * Listens for files dropped on the window, showing `overlay` while they are dragged over it.
 * `maxBytes()` is the room's current limit, `onUploaded(info, up)` gets the host's file record
 * (and the upload, with what `extra()` added when it started: the conversation it goes to),
 * `onChange(opts)` asks for a redraw and `onProgress()` for one soon. Returns { list(),
 * start(file), cancel(key), retry(key), dismiss(key), stop() }; stop() also abandons uploads
 * under way (the host drops unfinished uploads by itself).
 */
export function mountUploads(overlay, { maxBytes, onUploaded, onChange, onProgress, extra = () => ({}) }) {
  const ctl = new AbortController();
  let uploads = [];
  let depth = 0;
  const find = (key) => uploads.find((u) => u.key === key);

  function run(up) {
    up.error = null;
    up.note = null;
    up.progress = 0;
    const onNote = (note) => { if (up.note !== note) { up.note = note; onChange({}); } };
    const { promise, abort } = uploadResumable(up.file, (p) => { up.progress = p; onProgress(); }, onNote);
    up.abort = abort;
    promise.then((info) => {
      if (ctl.signal.aborted) return;
      uploads = uploads.filter((u) => u !== up);
      onUploaded(info, up);
      if (up.preview) setTimeout(() => URL.revokeObjectURL(up.preview), 5000);
    }, (err) => {
      if (ctl.signal.aborted) return;
      if (err.kind === 'cancelled') {
        dismiss(up.key);
        return;
      }
      up.error = err.message;
      up.note = null;
      up.canRetry = err.kind !== 'too_large';
      onChange({});
    });
  }

  function start(file) {
    const up = {
      key: `u-${uuid()}`, file, progress: 0, error: null, canRetry: true, ts: new Date().toISOString(),
      preview: INLINE_IMAGES.has(file.type) ? URL.createObjectURL(file) : null, ...extra(),
    };
    uploads.push(up);
    const limit = maxBytes();
    if (file.size > limit) {
      up.error = t('upload.tooLargeLimit', { size: formatSize(limit) });
      up.canRetry = false;
    } else {
      run(up);
    }
    onChange({ forceBottom: true });
  }

  function dismiss(key) {
    const up = find(key);
    if (up?.preview) URL.revokeObjectURL(up.preview);
    uploads = uploads.filter((u) => u.key !== key);
    onChange({});
  }

  const { signal } = ctl;
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth += 1;
    overlay.hidden = false;
  }, { signal });
  window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); }, { signal });
  window.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  }, { signal });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    [...e.dataTransfer.files].forEach((f) => start(f));
  }, { signal });

  return {
    list: () => uploads,
    start,
    cancel(key) { find(key)?.abort?.(); },
    retry(key) {
      const up = find(key);
      if (!up) return;
      run(up);
      onChange({});
    },
    dismiss,
    stop() {
      if (ctl.signal.aborted) return;
      ctl.abort();
      for (const up of uploads) {
        up.abort?.();
        if (up.preview) URL.revokeObjectURL(up.preview);
      }
      uploads = [];
    },
  };
}
