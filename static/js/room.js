// A room: the controller that owns the chat state (events, people, outbox, uploads) and the
// parts that show it. Frames come in from the Connection; user actions come up as 'chat:*'
// events; everything on screen is computed from state by items() and handed to the list.

import { h, announce } from './dom.js';
import { icon } from './icons.js';
import { Connection, wsUrl } from './connection.js';
import { mountMessageList } from './messages.js';
import { mountComposer } from './composer.js';
import { openDialog, copyField } from './dialogs.js';
import { uploadResumable } from './resume-upload.js';
import { mountClosed } from './closed.js';
import * as store from './storage.js';
import * as desktop from './desktop.js';
import { presenceFolder, isPresence, renameText } from './presence.js';
import { mountReloadGuard, offlineNote } from './offline.js';
import { mountInvite } from './invite.js';
import { mountNameNotice, openRenameDialog, renameRefusal } from './identity.js';
import {
  uuid, mergeEvents, groupsWith, dayKey, dayLabel, typingLabel, plural, refusalText,
  formatSize, INLINE_IMAGES,
} from './util.js';

const TYPING_SHOWN_MS = 4500;
const ACK_WAIT_MS = 10000;
const OLDER_PAGE = 100; // events per page when reading back: fewer round trips to the start
const OLDER_RETRY_MS = 3000;
const RENAME_ERRORS = new Set(['name_taken', 'bad_name', 'same_name', 'rate_limited']);
const DEFAULT_LIMITS = { max_message_bytes: 8192, max_upload_bytes: 4 * 1024 ** 3 };

export class Room {
  constructor(root, info, name, { onRefused }) {
    this.root = root;
    this.info = info;
    this.name = name;
    this.onRefused = onRefused;
  }

  start() {
    const { info } = this;
    this.clientId = store.clientId(uuid);
    this.me = store.me();
    this.roomId = info.room_id;
    this.roomName = info.room;
    this.limits = { ...DEFAULT_LIMITS, ...(info.limits ?? {}) };
    this.events = this.roomId ? store.loadEvents(this.roomId) : [];
    this.hasMoreBefore = this.events.length > 0 && this.events[0].id > 1;
    this.users = new Map();
    this.uploads = [];
    this.typers = new Map();
    this.unread = 0;
    this.welcomed = false;
    this.inflight = null;
    this.loadingOlder = false;
    this.connState = { state: 'connecting' };

    this.buildDom();
    this.render({ forceBottom: true, quiet: true });
    this.renderHeader();

    this.conn = new Connection(wsUrl(), () => {
      this.sentSince = this.events.length ? this.events[this.events.length - 1].id : null;
      return { name: this.name, client_id: this.clientId, since: this.sentSince };
    });
    this.conn.addEventListener('frame', (e) => this.onFrame(e.detail));
    this.conn.addEventListener('state', (e) => this.onState(e.detail));
    this.conn.start();

    this.onFocus = () => this.clearUnread();
    window.addEventListener('focus', this.onFocus);
    // A reload right after a message must still find it in the cache: save what is pending now.
    this.onHide = () => this.saveNow();
    window.addEventListener('pagehide', this.onHide);
    document.addEventListener('visibilitychange', this.onFocus);
    this.tick = setInterval(() => { this.renderBanner(); this.renderTyping(); }, 1000);
    this.stopReloadGuard = mountReloadGuard(() => this.dropped);
    this.updateTitle();
    this.enableLobbyButton();
    if (window.matchMedia('(pointer: fine)').matches) this.composer.focus();
    return this;
  }

  // DOM -------------------------------------------------------------------------------------

  buildDom() {
    this.header = h('header', { class: 'room-header' });
    this.banner = h('div', { class: 'banner', role: 'status', hidden: true });
    const pill = h('button', { type: 'button', class: 'new-pill', hidden: true }, icon('down'), h('span', { text: 'New messages' }));
    this.scroller = h('div', { class: 'scroller', tabIndex: 0, 'aria-label': 'Chat history' });
    this.typing = h('p', { class: 'typing', 'aria-live': 'polite' });
    const form = h('form', { class: 'composer', 'aria-label': 'Write a message' });
    this.overlay = h('div', { class: 'drop-overlay', hidden: true, 'aria-hidden': 'true' },
      h('div', { class: 'drop-box' }, icon('attach'), h('p', { text: `Drop files to share them in ${this.roomName}` })));
    const main = h('main', { class: 'room-main' }, this.scroller, pill);
    const nameNotice = h('div');
    this.root.replaceChildren(h('div', { class: 'room' }, this.header, this.banner, nameNotice, main, this.typing, form), this.overlay);

    this.buildHeader();
    this.buildBanner();
    this.list = mountMessageList(this.scroller, pill);
    this.invite = mountInvite(this.scroller, { onRename: () => this.askRename() });
    this.nameNotice = mountNameNotice(nameNotice, { onRename: () => this.askRename() });
    this.composer = mountComposer(form, {
      limitBytes: this.limits.max_message_bytes,
      placeholder: `Message ${this.roomName}`,
    });
    desktop.routeLinksOutside(this.root);

    this.root.addEventListener('chat:send', (e) => this.sendText(e.detail.text));
    this.root.addEventListener('chat:files', (e) => e.detail.files.forEach((f) => this.startUpload(f)));
    this.root.addEventListener('chat:typing', () => this.conn.send({ type: 'typing' }));
    this.root.addEventListener('chat:near-top', () => this.loadOlder());
    this.root.addEventListener('chat:load-older', () => this.loadOlder(true));
    this.root.addEventListener('chat:retry', (e) => this.retry(e.detail.cmid));
    this.root.addEventListener('chat:discard', (e) => this.discard(e.detail.cmid));
    this.root.addEventListener('chat:cancel-upload', (e) => this.uploadByKey(e.detail.key)?.abort?.());
    this.root.addEventListener('chat:retry-upload', (e) => this.retryUpload(e.detail.key));
    this.root.addEventListener('chat:dismiss-upload', (e) => this.dropUpload(e.detail.key));
    this.root.addEventListener('chat:open-image', (e) => this.openImage(e.detail.url, e.detail.name));
    this.wireDrop();
  }

  wireDrop() {
    let depth = 0;
    const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    window.addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth += 1;
      this.overlay.hidden = false;
    });
    window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
    window.addEventListener('dragleave', (e) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) this.overlay.hidden = true;
    });
    window.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      this.overlay.hidden = true;
      [...e.dataTransfer.files].forEach((f) => this.startUpload(f));
    });
  }

  /** Built once and updated in place, so a focused header button keeps focus as people come and go. */
  buildHeader() {
    const back = h('button', { type: 'button', class: 'icon-btn', hidden: true, 'aria-label': 'Back to the lobby', title: 'Back to the lobby', onclick: () => this.backToLobby() }, icon('back'));
    const name = h('h1', { class: 'room-name' });
    const conn = h('p', { class: 'conn' }, h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), h('span', { class: 'conn-text' }));
    const count = h('span', { class: 'chip-count' });
    const people = h('button', { type: 'button', class: 'chip', 'aria-haspopup': 'dialog', onclick: () => this.showPeople() },
      icon('users'), count, h('span', { class: 'chip-label', text: 'online' }));
    const addrText = h('span', { class: 'chip-label addr' });
    const addr = h('button', { type: 'button', class: 'chip', 'aria-haspopup': 'dialog', onclick: () => this.showAddress() }, icon('qr'), addrText);
    this.header.replaceChildren(back, h('div', { class: 'room-title' }, name, conn), h('div', { class: 'header-actions' }, people, addr));
    this.head = { back, name, conn, count, people, addr, addrText };
  }

  renderHeader() {
    const { back, name, conn, count, people, addr, addrText } = this.head;
    const n = this.users.size;
    const address = this.roomAddress();
    const state = this.connState.state;
    back.hidden = !this.isDesktopLobbyAvailable;
    name.textContent = this.roomName;
    name.title = this.roomName;
    conn.className = `conn conn-${state}`;
    conn.lastChild.textContent = { online: 'Connected', connecting: 'Connecting…', offline: 'Offline', refused: 'Not connected' }[state] ?? '';
    count.textContent = String(n);
    people.setAttribute('aria-label', `${plural(n, 'person', 'people')} online; show who`);
    addrText.textContent = address;
    addr.setAttribute('aria-label', `Room address ${address}; show the QR code to join from a phone`);
    // A new room, or one where only you ever spoke: invite. A room with a conversation in it
    // shows that conversation; its address stays one click away in the header.
    const alone = [...this.users.keys()].every((id) => id === this.me?.id)
      && !this.events.some((e) => e.type === 'message' && e.user?.id !== this.me?.id);
    this.invite.update({ info: { ...this.info, room: this.roomName }, me: this.welcomed ? this.me : null, alone });
  }

  /** The slim "Reconnecting…" line: shown from the first drop until the room is back. */
  buildBanner() {
    this.bannerText = h('span', { class: 'banner-text' });
    this.bannerNote = h('span', { class: 'banner-note' });
    this.banner.replaceChildren(icon('wifi'), this.bannerText,
      h('button', { type: 'button', class: 'link-btn', text: 'Try now', onclick: () => this.conn.retryNow() }),
      this.bannerNote);
  }

  renderBanner() {
    const { state, retryAt, reason } = this.connState;
    if (state === 'online' || state === 'refused') this.dropped = false;
    else if (state === 'offline') this.dropped = true;
    this.banner.hidden = !this.dropped;
    if (!this.dropped) return;
    const secs = state === 'offline' ? Math.max(0, Math.ceil(((retryAt ?? Date.now()) - Date.now()) / 1000)) : 0;
    const text = secs > 0 ? `Reconnecting… next try in ${secs} s` : 'Reconnecting…';
    if (this.bannerText.textContent !== text) this.bannerText.textContent = text;
    const note = offlineNote();
    if (this.bannerNote.textContent !== note) this.bannerNote.textContent = note;
    this.bannerText.title = reason || '';
  }

  renderTyping() {
    const now = Date.now();
    for (const [id, t] of this.typers) if (t.until <= now) this.typers.delete(id);
    const label = typingLabel([...this.typers.values()].map((t) => t.name));
    if (this.typing.textContent !== label) this.typing.textContent = label;
  }

  roomAddress() {
    const urls = this.info.urls ?? [];
    const url = urls.find((u) => !/\/\/(127\.|localhost|\[::1\])/.test(u)) ?? urls[0] ?? window.location.origin;
    return url.replace(/^https?:\/\//, '').replace(/\/$/, '');
  }

  // State -> screen ------------------------------------------------------------------------

  items() {
    const out = [];
    if (this.hasMoreBefore) out.push({ kind: 'older', key: 'older', loading: this.loadingOlder });
    else if (this.events.length) out.push({ kind: 'start', key: 'start', room: this.roomName });
    let prev = null;
    let day = null;
    const now = new Date();
    const dayOf = (ts) => {
      const date = new Date(ts);
      const key = dayKey(date);
      if (key !== day) {
        day = key;
        prev = null;
        out.push({ kind: 'day', key: `day-${key}`, label: dayLabel(date, now) });
      }
    };
    const meId = this.me?.id;
    const delivered = new Set();
    const presence = presenceFolder(meId);
    const flush = () => { const item = presence.flush(); if (item) out.push(item); };
    for (const ev of this.events) {
      const quiet = isPresence(ev);
      if (!quiet || !presence.fits(ev) || dayKey(new Date(ev.ts)) !== day) flush();
      if (quiet) {
        dayOf(ev.ts);
        presence.add(ev);
        prev = null;
      } else if (ev.type === 'message') {
        dayOf(ev.ts);
        const own = meId !== undefined && ev.user?.id === meId;
        if (own && ev.client_msg_id) delivered.add(ev.client_msg_id);
        out.push({
          kind: 'msg', key: own && ev.client_msg_id ? `c-${ev.client_msg_id}` : `e-${ev.id}`,
          ev, own, grouped: groupsWith(prev, ev), status: own ? 'delivered' : null,
        });
        prev = ev;
      } else if (ev.type === 'rename') {
        dayOf(ev.ts);
        out.push({ kind: 'notice', key: `e-${ev.id}`, ts: ev.ts, text: renameText(ev, meId) });
        prev = null;
      }
    }
    flush();
    const me = this.me ?? { id: '', name: this.name };
    const online = this.connState.state === 'online';
    for (const item of store.loadOutbox()) {
      if (delivered.has(item.cmid)) continue;
      const ev = { type: 'message', user: me, text: item.text, file: item.file ?? null, ts: item.ts };
      dayOf(ev.ts);
      out.push({
        kind: 'msg', key: `c-${item.cmid}`, ev, own: true, grouped: groupsWith(prev, ev), cmid: item.cmid,
        status: item.state === 'failed' ? 'failed' : online ? 'sending' : 'waiting', reason: item.reason,
      });
      prev = ev;
    }
    for (const up of this.uploads) {
      const ev = { type: 'message', user: me, ts: up.ts };
      dayOf(up.ts);
      out.push({
        kind: 'upload', key: up.key, name: up.file.name, size: up.file.size, mime: up.file.type,
        ts: up.ts, progress: up.progress, preview: up.preview, error: up.error, canRetry: up.canRetry, note: up.note,
        grouped: groupsWith(prev, ev),
      });
      prev = ev;
    }
    return out;
  }

  render(opts = {}) {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.list.render(this.items(), opts);
  }

  renderSoon() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  saveSoon() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.saveNow(), 250);
  }

  saveNow() {
    clearTimeout(this.saveTimer);
    this.saveTimer = 0;
    if (this.roomId) store.saveEvents(this.roomId, this.events);
  }

  // Frames from the host -------------------------------------------------------------------

  onState(detail) {
    this.connState = detail;
    if (detail.state !== 'online') {
      this.welcomed = false;
      this.inflight = null;
      clearTimeout(this.ackTimer);
    }
    if (detail.state === 'refused') {
      this.conn.stop();
      this.stopReloadGuard?.();
      this.onRefused?.(detail.reason);
      return;
    }
    this.renderHeader();
    this.renderBanner();
    this.render();
  }

  onFrame(frame) {
    switch (frame.type) {
      case 'welcome': this.onWelcome(frame); break;
      case 'message': this.onMessage(frame); break;
      case 'join':
      case 'rename':
        this.users.set(frame.user.id, frame.user);
        if (frame.type === 'rename' && frame.user.id === this.me?.id) this.onRenamed(frame.user);
        this.addEvent(frame);
        this.renderHeader();
        this.render();
        break;
      case 'leave':
        this.users.delete(frame.user.id);
        this.addEvent(frame);
        this.renderHeader();
        this.render();
        break;
      case 'typing':
        if (frame.user && frame.user.id !== this.me?.id) {
          this.typers.set(frame.user.id, { name: frame.user.name, until: Date.now() + TYPING_SHOWN_MS });
          this.renderTyping();
        }
        break;
      case 'error':
        if (this.pendingRename && !frame.client_msg_id && RENAME_ERRORS.has(frame.code)) {
          this.pendingRename.done(renameRefusal(frame.code, frame.detail));
        } else this.onError(frame);
        break;
      case 'closing': this.onClosing(frame); break;
      default: break;
    }
  }

  async onWelcome(w) {
    this.me = w.you;
    store.setMe(w.you);
    let fromWelcome = true;
    if (w.room_id !== this.roomId || w.reset) {
      if (this.roomId) store.dropEvents(this.roomId);
      const partial = !w.reset && this.sentSince !== null;
      this.roomId = w.room_id;
      this.events = [];
      this.list.reset();
      store.markJoined(w.room_id);
      if (partial) {
        // Events "after since" from another room's numbering: start from the newest page instead.
        this.events = (await this.fetchPage('')) ?? [];
        fromWelcome = false;
      }
    }
    if (fromWelcome) this.events = mergeEvents(this.events, w.events);
    this.roomName = w.room;
    this.limits = { ...this.limits, ...(w.limits ?? {}) };
    this.composer.setLimit(this.limits.max_message_bytes);
    this.composer.setPlaceholder(`Message ${this.roomName}`);
    this.users = new Map(w.users.map((u) => [u.id, u]));
    if (w.name_taken && w.requested_name) this.nameNotice.show(w.requested_name, w.you.name);
    else this.nameNotice.hide();
    if (w.has_more_after) await this.catchUp();
    this.hasMoreBefore = this.events.length > 0 && this.events[0].id > 1;
    this.ackFromHistory();
    this.welcomed = true;
    this.saveSoon();
    this.renderHeader();
    this.updateTitle();
    this.render({ quiet: true });
    this.pump();
  }

  async fetchPage(query, limit = 50) {
    try {
      const res = await fetch(`/api/events?limit=${limit}${query}`, { cache: 'no-store' });
      if (!res.ok) return null;
      const page = await res.json();
      return Array.isArray(page.events) ? page.events : [];
    } catch {
      return null;
    }
  }

  async catchUp() {
    for (let guard = 0; guard < 200; guard += 1) {
      const after = this.events.length ? this.events[this.events.length - 1].id : 0;
      let page;
      try {
        const res = await fetch(`/api/events?after=${after}&limit=500`, { cache: 'no-store' });
        if (!res.ok) return;
        page = await res.json();
      } catch {
        return;
      }
      this.events = mergeEvents(this.events, page.events ?? []);
      if (!page.has_more || !page.events?.length) return;
    }
  }

  addEvent(ev) {
    const last = this.events[this.events.length - 1];
    if (!last || ev.id > last.id) this.events.push(ev);
    else this.events = mergeEvents(this.events, [ev]);
    this.saveSoon();
  }

  onMessage(ev) {
    const own = ev.user?.id === this.me?.id;
    this.addEvent(ev);
    this.typers.delete(ev.user?.id);
    this.renderTyping();
    if (own && ev.client_msg_id) this.acknowledge(ev.client_msg_id);
    if (!own) {
      if (this.isAway()) {
        this.unread += 1;
        this.updateTitle();
        desktop.notify(`${ev.user.name} in ${this.roomName}`, ev.text || ev.file?.name || '');
      }
      if (!this.list.isStuck()) announce(`New message from ${ev.user.name}`);
    }
    this.render({ forceBottom: own, newFromOthers: !own });
  }

  onError(frame) {
    const cmid = frame.client_msg_id;
    const item = cmid && store.loadOutbox().find((i) => i.cmid === cmid);
    if (!item) {
      announce(refusalText(frame.code, frame.detail));
      return;
    }
    if (this.inflight === cmid) {
      this.inflight = null;
      clearTimeout(this.ackTimer);
    }
    if (frame.code === 'rate_limited') {
      const secs = typeof frame.retry_after === 'number' ? frame.retry_after
        : Number((frame.detail ?? '').match(/([\d.]+)\s*s/)?.[1] ?? 1);
      setTimeout(() => this.pump(), Math.max(200, secs * 1000));
      return;
    }
    this.updateOutbox(cmid, { state: 'failed', reason: refusalText(frame.code, frame.detail) });
    this.render();
    this.pump();
  }

  // Outbox: every message goes through it, one at a time, in order ---------------------------

  updateOutbox(cmid, patch) {
    store.saveOutbox(store.loadOutbox().map((i) => (i.cmid === cmid ? { ...i, ...patch } : i)));
  }

  sendText(text) {
    this.enqueue({ text });
  }

  enqueue({ text = '', file = null }) {
    const item = { cmid: uuid(), text, ts: new Date().toISOString(), state: 'pending' };
    if (file) { item.file = file; item.file_id = file.id; }
    store.saveOutbox([...store.loadOutbox(), item]);
    this.render({ forceBottom: true });
    this.pump();
  }

  pump() {
    if (this.inflight || !this.welcomed || this.conn.state !== 'online') return;
    const next = store.loadOutbox().find((i) => i.state === 'pending');
    if (!next) return;
    const frame = { type: 'message', text: next.text, client_msg_id: next.cmid };
    if (next.file_id) frame.file_id = next.file_id;
    if (!this.conn.send(frame)) return;
    this.inflight = next.cmid;
    clearTimeout(this.ackTimer);
    // No answer: send it again. The host acknowledges a repeated id without repeating it.
    this.ackTimer = setTimeout(() => { if (this.inflight === next.cmid) { this.inflight = null; this.pump(); } }, ACK_WAIT_MS);
  }

  acknowledge(cmid) {
    store.saveOutbox(store.loadOutbox().filter((i) => i.cmid !== cmid));
    if (this.inflight === cmid) {
      this.inflight = null;
      clearTimeout(this.ackTimer);
      this.pump();
    }
  }

  ackFromHistory() {
    const meId = this.me?.id;
    const sent = new Set(this.events.filter((e) => e.type === 'message' && e.user?.id === meId).map((e) => e.client_msg_id));
    const items = store.loadOutbox();
    const left = items.filter((i) => !sent.has(i.cmid));
    if (left.length !== items.length) store.saveOutbox(left);
  }

  retry(cmid) {
    this.updateOutbox(cmid, { state: 'pending', reason: undefined });
    this.render();
    this.pump();
  }

  discard(cmid) {
    store.saveOutbox(store.loadOutbox().filter((i) => i.cmid !== cmid));
    this.render();
    this.composer.focus();
  }

  // Files ------------------------------------------------------------------------------------

  uploadByKey(key) { return this.uploads.find((u) => u.key === key); }

  startUpload(file) {
    const up = {
      key: `u-${uuid()}`, file, progress: 0, error: null, canRetry: true, ts: new Date().toISOString(),
      preview: INLINE_IMAGES.has(file.type) ? URL.createObjectURL(file) : null,
    };
    this.uploads.push(up);
    if (file.size > this.limits.max_upload_bytes) {
      up.error = `Too large: this room accepts files up to ${formatSize(this.limits.max_upload_bytes)}.`;
      up.canRetry = false;
    } else {
      this.runUpload(up);
    }
    this.render({ forceBottom: true });
  }

  runUpload(up) {
    up.error = null;
    up.note = null;
    up.progress = 0;
    const onNote = (note) => { if (up.note !== note) { up.note = note; this.render(); } };
    const { promise, abort } = uploadResumable(up.file, (p) => { up.progress = p; this.renderSoon(); }, onNote);
    up.abort = abort;
    promise.then((info) => {
      this.uploads = this.uploads.filter((u) => u !== up);
      this.enqueue({ file: info });
      if (up.preview) setTimeout(() => URL.revokeObjectURL(up.preview), 5000);
    }, (err) => {
      if (err.kind === 'cancelled') {
        this.dropUpload(up.key);
        return;
      }
      up.error = err.message;
      up.note = null;
      up.canRetry = err.kind !== 'too_large';
      this.render();
    });
  }

  retryUpload(key) {
    const up = this.uploadByKey(key);
    if (!up) return;
    this.runUpload(up);
    this.render();
  }

  dropUpload(key) {
    const up = this.uploadByKey(key);
    if (up?.preview) URL.revokeObjectURL(up.preview);
    this.uploads = this.uploads.filter((u) => u.key !== key);
    this.render();
  }

  /** The page before the oldest event shown. Scrolling asks again and again: after a failure
   *  it waits a little (the button still works at once), and a failure never ends history. */
  async loadOlder(byHand = false) {
    if (this.loadingOlder || !this.hasMoreBefore || !this.events.length) return;
    if (!byHand && Date.now() - (this.olderFailedAt ?? 0) < OLDER_RETRY_MS) return;
    this.loadingOlder = true;
    this.render({ prepend: true });
    const older = await this.fetchPage(`&before=${this.events[0].id}`, OLDER_PAGE);
    if (older === null) {
      this.olderFailedAt = Date.now();
    } else {
      this.events = mergeEvents(older, this.events);
      this.hasMoreBefore = older.length > 0 && this.events[0].id > 1;
    }
    this.loadingOlder = false;
    this.render({ prepend: true });
  }

  // Your name ----------------------------------------------------------------------------------

  askRename() {
    openRenameDialog(this.me?.name ?? this.name, (name) => this.rename(name));
  }

  /** Ask the host for a new name; resolves to null once the room took it, else to why not. */
  rename(name) {
    if (!this.welcomed || !this.conn.send({ type: 'rename', name })) {
      return Promise.resolve('Not connected to the room; try again once it is back.');
    }
    this.pendingRename?.done('');
    return new Promise((resolve) => {
      const timer = setTimeout(() => done('No answer from the room; try again.'), ACK_WAIT_MS);
      const done = (result) => {
        clearTimeout(timer);
        if (this.pendingRename?.done === done) this.pendingRename = null;
        resolve(result);
      };
      this.pendingRename = { done };
    });
  }

  /** The room took my new name: use it from now on, here and in the next hello. */
  onRenamed(user) {
    this.me = user;
    this.name = user.name;
    store.setMe(user);
    store.setName(user.name);
    this.nameNotice.hide();
    this.pendingRename?.done(null);
  }

  // Dialogs ------------------------------------------------------------------------------------

  showPeople() {
    const people = [...this.users.values()].sort((a, b) => a.name.localeCompare(b.name));
    let dialog = null;
    const change = h('button', { type: 'button', class: 'link-btn', text: 'Change name', onclick: () => { dialog?.close(); this.askRename(); } });
    const list = h('ul', { class: 'people' }, people.map((u) => h('li', {},
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: (u.name.trim()[0] ?? '?').toUpperCase() }),
      h('span', { text: u.name }),
      u.id === this.me?.id ? [h('span', { class: 'muted', text: ' (you)' }), change] : null)));
    const body = people.length ? list : h('p', { class: 'muted', text: 'Nobody is connected right now.' });
    dialog = openDialog(`${plural(people.length, 'person', 'people')} online`, body);
  }

  showAddress() {
    const urls = (this.info.urls ?? []).length ? this.info.urls : [window.location.origin + '/'];
    const lanUrls = urls.filter((u) => !/\/\/(127\.|localhost|\[::1\])/.test(u));
    const best = lanUrls[0] ?? urls[0];
    const qr = h('img', { class: 'qr', src: `/api/qr.svg?text=${encodeURIComponent(best)}`, alt: `QR code for ${best}`, width: 220, height: 220 });
    const body = [
      h('p', { text: 'Anyone on the same network can join from a phone or a browser: scan the code or type the address.' }),
      h('div', { class: 'qr-box' }, qr),
      ...urls.map((u) => copyField(u, `Room address ${u}`)),
    ];
    if (!lanUrls.length) {
      body.push(h('p', { class: 'warning', text: 'This room only listens on this computer, so other devices cannot reach it. Host it on your network to share it.' }));
    }
    openDialog('Join from another device', body, 'address-dialog');
  }

  openImage(url, name) {
    const body = [
      h('img', { class: 'full-image', src: url, alt: name }),
      h('p', { class: 'dialog-actions' }, h('a', { class: 'btn', href: url, download: name }, icon('download'), h('span', { text: 'Download' }))),
    ];
    openDialog(name, body, 'image-dialog');
  }

  // Desktop and unread ------------------------------------------------------------------------

  isAway() { return document.hidden || !document.hasFocus(); }

  clearUnread() {
    if (this.isAway() || this.unread === 0) return;
    this.unread = 0;
    this.updateTitle();
  }

  updateTitle() {
    const base = `${this.roomName} · LAN Chat`;
    document.title = this.unread ? `(${this.unread}) ${base}` : base;
    desktop.setUnread(this.unread, this.roomName);
  }

  async enableLobbyButton() {
    if (await desktop.isDesktop()) {
      this.isDesktopLobbyAvailable = true;
      this.renderHeader();
    }
  }

  /** The host closed the room for good (see closed.js); it reopens if the same room returns. */
  onClosing(frame) {
    this.closedView?.stop();
    this.closedView = mountClosed(this, frame, {
      onReopen: () => { this.closedView = null; this.conn.start(); },
    });
  }

  async backToLobby() {
    const url = await desktop.lobbyUrl();
    if (url) window.location.href = url;
  }
}
