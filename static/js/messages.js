// The message list: renders items the room computes, reusing each item's element while it is
// unchanged, keeps to the bottom unless the reader scrolled up, and says what the user clicked
// by bubbling 'chat:*' CustomEvents.

import { h, emit, announce } from './dom.js';
import { icon } from './icons.js';
import { fileNameEl } from './filename.js';
import { mountHistoryScroll } from './history-scroll.js';
import { linkify, safeHref, INLINE_IMAGES } from './util.js';
import { formatSize, formatTime, t } from './i18n.js';
import { replyQuote, editedMark, tombstone, reactionRow } from './message-parts.js';
import { apiUrl, fileUrl, isForeign } from './host-base.js';

const NEAR_BOTTOM_PX = 64;

function textBlock(text) {
  const p = h('p', { class: 'msg-text' });
  for (const part of linkify(text)) {
    const href = part.href && safeHref(part.href);
    p.append(href
      ? h('a', { href, target: '_blank', rel: 'noopener noreferrer', text: part.text })
      : document.createTextNode(part.text));
  }
  return p;
}

function fileIconName(mime) {
  return INLINE_IMAGES.has(mime) ? 'image' : 'file';
}

/** An <img> for the shared file at `path`: the host's URL, or (after a move) a blob of it. */
function thumb(path, name, preview) {
  const img = h('img', { class: 'thumb', alt: name, loading: 'lazy', decoding: 'async' });
  if (preview || !isForeign()) img.src = preview || path;
  else fileUrl(path).then((src) => { img.src = src; }, () => img.classList.add('thumb-failed'));
  return img;
}

/** A shared file whose bytes no host of the room has any more: its name, who shared it, no link. */
function goneCard(file, sharedBy) {
  return h('div', { class: 'file-card file-gone' }, h('div', { class: 'file-row' },
    h('span', { class: 'file-icon' }, icon('file')),
    h('span', { class: 'file-info' },
      fileNameEl(file.name),
      h('span', { class: 'file-size', text: t('msg.fileGone', { name: sharedBy }) }))));
}

function fileCard(file, extra = {}) {
  if (file.available === false) return goneCard(file, extra.sharedBy ?? t('people.someone'));
  const path = safeHref(file.url);
  // Relative while the page's own host serves the room; the new host's address after a move.
  const url = path && (isForeign() ? apiUrl(path) : path);
  const isImage = INLINE_IMAGES.has(file.mime) && (url || extra.preview);
  const card = h('div', { class: `file-card${isImage ? ' has-thumb' : ''}` });
  if (isImage) {
    const img = thumb(path, file.name, extra.preview);
    card.append(url
      ? h('button', { type: 'button', class: 'thumb-btn', 'aria-label': t('msg.openFull', { name: file.name }), dataset: { action: 'open-image', url: path, name: file.name } }, img)
      : h('div', { class: 'thumb-btn' }, img));
  }
  card.append(h('div', { class: 'file-row' },
    h('span', { class: 'file-icon' }, icon(fileIconName(file.mime))),
    h('span', { class: 'file-info' },
      fileNameEl(file.name),
      h('span', { class: 'file-size', text: extra.sizeText ?? formatSize(file.size) })),
    url ? h('a', { class: 'icon-btn', href: url, download: file.name, dataset: { path }, 'aria-label': t('msg.download', { name: file.name }), title: t('msg.downloadTitle') }, icon('download')) : null,
    extra.action ?? null));
  return card;
}

function statusLine(item) {
  if (item.status === 'delivered') {
    return h('p', { class: 'msg-status delivered' }, icon('check'), h('span', { class: 'status-text', text: t('msg.delivered') }));
  }
  if (item.status === 'failed') {
    return h('p', { class: 'msg-status failed', role: 'alert' },
      icon('alert'), h('span', { class: 'status-text', text: t('msg.notSent', { reason: item.reason || '' }) }),
      h('button', { type: 'button', class: 'link-btn', dataset: { action: 'retry', cmid: item.cmid }, text: t('msg.retry') }),
      h('button', { type: 'button', class: 'link-btn', dataset: { action: 'discard', cmid: item.cmid }, text: t('msg.discard') }));
  }
  const waiting = item.status === 'waiting';
  return h('p', { class: 'msg-status sending' }, icon('clock'),
    h('span', { class: 'status-text', text: waiting ? t('msg.waiting') : t('msg.sending') }));
}

function meta(name, ts) {
  const date = new Date(ts);
  return h('div', { class: 'msg-meta' },
    h('span', { class: 'msg-author', text: name }),
    h('time', { dateTime: ts, title: date.toLocaleString(), text: formatTime(date) }));
}

function buildMessage(item) {
  const { ev } = item;
  const stored = Number.isInteger(ev.id);
  const li = h('li', {
    class: `msg${item.own ? ' own' : ''}${item.grouped ? ' grouped' : ''}${item.mention ? ' mention' : ''}${ev.deleted ? ' deleted' : ''}`,
    dataset: { key: item.key, status: item.status === 'waiting' ? 'sending' : item.status ?? '' },
  });
  if (stored) {
    // A stored message can be reached with the arrow keys and acted on (message-actions.js).
    Object.assign(li.dataset, {
      id: String(ev.id), canEdit: item.canEdit ? '1' : '', canDelete: item.canDelete ? '1' : '', deleted: ev.deleted ? '1' : '',
      canWrite: !item.own && !ev.to ? '1' : '', // a room message's author can be written to privately
    });
    li.tabIndex = -1;
  }
  const who = item.own ? t('people.you') : ev.user?.name ?? t('people.someone');
  if (item.grouped) li.append(h('span', { class: 'sr-only', text: `${who}:` }));
  else li.append(meta(who, ev.ts));
  if (item.mention) li.append(h('span', { class: 'sr-only', text: t('msg.mentionsYou') }));
  if (ev.deleted) {
    li.append(tombstone());
    return li;
  }
  const bubble = h('div', { class: 'bubble' });
  const quote = replyQuote(ev.reply_to, item.meId);
  if (quote) bubble.append(quote);
  if (ev.text) bubble.append(textBlock(ev.text));
  if (ev.file) bubble.append(fileCard(ev.file, { sharedBy: ev.user?.name }));
  const edited = editedMark(ev);
  if (edited) (bubble.querySelector('.msg-text') ?? bubble).append(' ', edited);
  li.append(bubble);
  const reactions = reactionRow(ev, item.meId);
  if (reactions) li.append(reactions);
  if (item.own && item.status) li.append(statusLine(item));
  return li;
}

function buildUpload(item) {
  const li = h('li', { class: `msg own upload${item.grouped ? ' grouped' : ''}`, dataset: { key: item.key, status: item.error ? 'failed' : item.note ? 'paused' : 'uploading' } });
  if (!item.grouped) li.append(meta(t('people.you'), item.ts));
  const file = { name: item.name, size: item.size, mime: item.mime };
  const bubble = h('div', { class: 'bubble' });
  if (item.error) {
    bubble.append(fileCard(file, { preview: item.preview }),
      h('p', { class: 'msg-status failed', role: 'alert' }, icon('alert'), h('span', { class: 'status-text', text: item.error }),
        item.canRetry ? h('button', { type: 'button', class: 'link-btn', dataset: { action: 'retry-upload', key: item.key }, text: t('msg.retry') }) : null,
        h('button', { type: 'button', class: 'link-btn', dataset: { action: 'dismiss-upload', key: item.key }, text: t('msg.dismiss') })));
  } else {
    const pct = Math.round(item.progress * 100);
    const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-label': t('msg.uploading', { name: item.name }), 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct },
      h('div', { class: 'progress-bar' }));
    bar.style.setProperty('--progress', String(item.progress));
    const cancel = h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('msg.cancelUpload', { name: item.name }), title: t('msg.cancel'), dataset: { action: 'cancel-upload', key: item.key } }, icon('close'));
    bubble.append(fileCard(file, { preview: item.preview, action: cancel, sizeText: t('msg.progress', { percent: pct, size: formatSize(item.size) }) }), bar);
    if (item.note) bubble.append(h('p', { class: 'msg-status paused', role: 'status' }, icon('wifi'), h('span', { class: 'status-text', text: item.note })));
  }
  li.append(bubble);
  return li;
}

function updateUpload(node, item) {
  const pct = Math.round(item.progress * 100);
  const bar = node.querySelector('.progress');
  if (bar) {
    bar.setAttribute('aria-valuenow', String(pct));
    bar.style.setProperty('--progress', String(item.progress));
  }
  const size = node.querySelector('.file-size');
  if (size) size.textContent = t('msg.progress', { percent: pct, size: formatSize(item.size) });
}

function build(item) {
  switch (item.kind) {
    case 'msg': return buildMessage(item);
    case 'upload': return buildUpload(item);
    case 'day': return h('li', { class: 'day' }, h('span', { text: item.label })); // a list holds list items only
    case 'notice': {
      const date = new Date(item.ts);
      return h('li', { class: 'notice' }, h('span', { text: item.text }), ' ',
        h('time', { dateTime: item.ts, title: date.toLocaleString(), text: formatTime(date) }));
    }
    case 'older': return h('li', { class: 'older' }, h('button', {
      type: 'button', class: 'link-btn', dataset: { action: 'load-older' }, disabled: item.loading,
      text: item.loading ? t('history.loadingOlder') : t('history.loadOlder') }));
    case 'start': return h('li', { class: 'start', text: item.partner
      ? t('history.startPrivate', { name: item.partner })
      : t('history.start', { room: item.room }) });
    case 'unread': return h('li', { class: 'unread-line', role: 'separator', 'aria-label': t('history.unreadLine') }, h('span', { text: t('history.newMessages') }));
    default: return h('li');
  }
}

function signature(item) {
  const { ev, progress, preview, ...rest } = item;
  if (item.kind !== 'msg') return JSON.stringify(rest);
  // What a message shows beyond its id: an edit, a delete, a reaction or a rename redraws it.
  return JSON.stringify({
    ...rest, id: ev.id, ts: ev.ts, name: ev.user?.name, text: ev.text, edited: ev.edited_at,
    deleted: ev.deleted, reactions: ev.reactions, reply: ev.reply_to, file: ev.file?.url, gone: ev.file?.available === false,
  });
}

/** Save the shared file at `path` as `name`, fetched from the host serving the room now. */
export async function downloadFrom(path, name) {
  try {
    const href = await fileUrl(path);
    const a = h('a', { href, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
  } catch {
    announce(t('msg.downloadFailed', { name }));
  }
}

/** Mount the list inside `scroller` (the element that scrolls). */
export function mountMessageList(scroller, pill) {
  const list = h('ol', { class: 'messages', id: 'messages', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': t('msg.list') });
  scroller.append(list);
  const nodes = new Map();
  let stuck = true;

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
  const history = mountHistoryScroll(scroller, list, pill, {
    onNearTop: () => emit(scroller, 'chat:near-top'),
    // Once more on the next frame: a fling still under way would otherwise carry the view off.
    onJump: () => { toBottom(); requestAnimationFrame(() => { if (!atBottom()) toBottom(); }); },
  });
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; stuck = true; history.update(); }

  scroller.addEventListener('scroll', () => { stuck = atBottom(); }, { passive: true });
  // A window made smaller (or a phone's keyboard opening) keeps the newest message in view.
  const resized = new ResizeObserver(() => { if (stuck) toBottom(); });
  resized.observe(scroller);

  list.addEventListener('click', (event) => {
    const link = event.target.closest('a[download][data-path]');
    if (link && isForeign()) {
      // Another host than the page's: its cookies and resource policy refuse a plain link.
      event.preventDefault();
      downloadFrom(link.dataset.path, link.getAttribute('download'));
      return;
    }
    const button = event.target.closest('[data-action]');
    if (!button || !list.contains(button)) return;
    emit(list, `chat:${button.dataset.action}`, { ...button.dataset });
  });
  // A late thumbnail must not push the newest message out of view.
  list.addEventListener('load', () => { if (stuck) toBottom(); }, true);

  let quietTimer = 0;
  function render(items, { forceBottom = false, prepend = false, newFromOthers = false, quiet = prepend } = {}) {
    const wasStuck = stuck;
    if (quiet) {
      // History arriving in bulk (cache, resume, older pages) is not news: do not read it out.
      list.setAttribute('aria-live', 'off');
      clearTimeout(quietTimer);
      quietTimer = setTimeout(() => list.setAttribute('aria-live', 'polite'), 500);
    }
    const place = prepend ? history.place() : null;
    const keys = new Set();
    let cursor = list.firstChild;
    for (const item of items) {
      keys.add(item.key);
      const sig = signature(item);
      let entry = nodes.get(item.key);
      if (!entry || entry.sig !== sig) {
        if (entry) {
          if (entry.node === cursor) cursor = cursor.nextSibling;
          entry.node.remove();
        }
        entry = { node: build(item), sig };
        entry.node.dataset.key = item.key;
        nodes.set(item.key, entry);
      } else if (item.kind === 'upload') {
        updateUpload(entry.node, item);
      }
      if (entry.node === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(entry.node, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
    for (const key of [...nodes.keys()]) if (!keys.has(key)) nodes.delete(key);

    if (prepend && history.keep(place)) {
      history.update();
    } else if (forceBottom || wasStuck) {
      toBottom();
    } else if (newFromOthers) {
      history.newMessages();
    } else {
      history.update();
    }
    // Still near the top (a short page, or a list shorter than the window, which cannot even
    // be scrolled): ask for more now rather than wait for a scroll that may never come.
    history.check();
  }

  function reset() {
    nodes.clear();
    list.replaceChildren();
  }

  /** Coming back to a room: when the "new messages" line is above the view, start reading there. */
  function showUnreadLine() {
    const line = list.querySelector('.unread-line');
    if (!line) return;
    const top = line.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    if (top >= 0) return;
    scroller.scrollTop += top - 8;
    stuck = atBottom();
    history.update();
  }

  /** Bring the stored message `id` into view, mark it for a moment and focus it; false when not shown. */
  function reveal(id) {
    const node = list.querySelector(`.msg[data-id="${Number(id)}"]`);
    if (!node) return false;
    node.scrollIntoView({ block: 'center' });
    stuck = atBottom();
    history.update();
    node.classList.remove('flash');
    void node.offsetWidth; // restart the highlight when the same message is shown twice
    node.classList.add('flash');
    node.focus({ preventScroll: true });
    return true;
  }

  function stop() {
    clearTimeout(quietTimer);
    resized.disconnect();
    history.stop();
  }

  return { render, reset, reveal, showUnreadLine, toBottom, element: list, isStuck: () => stuck, stop };
}
