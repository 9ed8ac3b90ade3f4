// Small notices at the bottom of the window: "Saved plans.zip in Downloads", sent by the
// desktop app when a file it saved is complete, or why the room refused an action. Mounted
// once; stop() removes the listener.

import { h } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';

const SHOWN_MS = 8000;

function region(root = document.body) {
  let el = root.querySelector(':scope > .notices');
  if (!el) {
    el = h('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });
    root.append(el);
  }
  return el;
}

/** A short visible note that goes away by itself (and is read out politely). */
export function toast(text, { failed = true } = {}) {
  const close = h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('msg.dismiss'), title: t('msg.dismiss') }, icon('close'));
  const note = h('div', { class: `notice-toast${failed ? ' failed' : ''}` }, icon(failed ? 'alert' : 'check'), h('span', { text }), close);
  const timer = setTimeout(() => note.remove(), SHOWN_MS);
  close.addEventListener('click', () => { clearTimeout(timer); note.remove(); });
  region().append(note);
}

export function mountDownloadNotices(root = document.body) {
  const notes = region(root);
  function onDownload(event) {
    const d = event.detail ?? {};
    const name = typeof d.name === 'string' ? d.name : t('notice.theFile');
    const saved = d.state === 'saved';
    const folder = typeof d.folder === 'string' && d.folder ? d.folder : '';
    let text = t('notice.saveFailed', { name, reason: typeof d.reason === 'string' ? d.reason : t('notice.downloadFailed') });
    if (saved) text = folder ? t('notice.savedIn', { name, folder }) : t('notice.savedDownloads', { name });
    toast(text, { failed: !saved });
  }
  window.addEventListener('lanchat:download', onDownload);
  return {
    stop() {
      window.removeEventListener('lanchat:download', onDownload);
      notes.remove();
    },
  };
}
