// A room: composes the parts that show it (header, banner, message list, composer, typing line,
// title, dialogs) with the outbox and the uploads, around one connection. Frames come in from
// the Connection; user actions come up from the parts as 'chat:*' events on `root`; what the
// list shows is computed from this state by roomItems(). mountRoom returns stop(), which undoes
// all of it: every listener, timer, the connection and the uploads under way.

import { h, announce } from './dom.js';
import { icon } from './icons.js';
import { Connection, wsUrl } from './connection.js';
import { mountMessageList } from './messages.js';
import { mountComposer } from './composer.js';
import { mountClosed } from './closed.js';
import * as store from './storage.js';
import * as desktop from './desktop.js';
import { mountReloadGuard } from './offline.js';
import { mountInvite } from './invite.js';
import { mountNameNotice, mountRenamer, openRenameDialog } from './identity.js';
import { fetchPage, catchUp } from './history-pages.js';
import { mountHeader, mountBanner, roomAddress } from './room-header.js';
import { mountRoomDialogs } from './room-dialogs.js';
import { mountOutbox } from './outbox.js';
import { mountUploads } from './uploads.js';
import { mountTyping } from './typing.js';
import { mountTitle, isAway } from './title.js';
import { mountNotifier } from './notify.js';
import { roomItems } from './room-items.js';
import { uuid, mergeEvents, refusalText } from './util.js';

const OLDER_PAGE = 100; // events per page when reading back: fewer round trips to the start
const OLDER_RETRY_MS = 3000;
const DEFAULT_LIMITS = { max_message_bytes: 8192, max_upload_bytes: 4 * 1024 ** 3 };

/**
 * Show the room `info` (from /api/room) in `root` and join it as `joinName`. `onRefused(reason)`
 * runs when the room will not let this page in (a password, a refused name). Returns { stop() }.
 */
export function mountRoom(root, info, joinName, { onRefused }) {
  const ctl = new AbortController();
  const { signal } = ctl;
  const clientId = store.clientId(uuid);
  let name = joinName;
  let me = store.me();
  let roomId = info.room_id;
  let roomName = info.room;
  let limits = { ...DEFAULT_LIMITS, ...(info.limits ?? {}) };
  let events = roomId ? store.loadEvents(roomId) : [];
  let hasMoreBefore = events.length > 0 && events[0].id > 1;
  let users = new Map();
  let welcomed = false;
  let loadingOlder = false;
  let olderFailedAt = 0;
  let connState = { state: 'connecting' };
  let sentSince = null;
  let closedView = null;
  let frame = 0;
  let saveTimer = 0;

  const header = h('header', { class: 'room-header' });
  const banner = h('div', { class: 'banner', role: 'status', hidden: true });
  const pill = h('button', { type: 'button', class: 'new-pill', hidden: true }, icon('down'), h('span', { text: 'New messages' }));
  const scroller = h('div', { class: 'scroller', tabIndex: 0, 'aria-label': 'Chat history' });
  const typingLine = h('p', { class: 'typing', 'aria-live': 'polite' });
  const form = h('form', { class: 'composer', 'aria-label': 'Write a message' });
  const overlay = h('div', { class: 'drop-overlay', hidden: true, 'aria-hidden': 'true' },
    h('div', { class: 'drop-box' }, icon('attach'), h('p', { text: `Drop files to share them in ${roomName}` })));
  const main = h('main', { class: 'room-main' }, scroller, pill);
  const noticeBox = h('div');
  root.replaceChildren(h('div', { class: 'room' }, header, banner, noticeBox, main, typingLine, form), overlay);

  const conn = new Connection(wsUrl(), () => {
    sentSince = events.length ? events[events.length - 1].id : null;
    return { name, client_id: clientId, since: sentSince };
  });
  const dialogs = mountRoomDialogs();
  const head = mountHeader(header, {
    onBack: backToLobby,
    onPeople: () => dialogs.people(users.values(), me?.id, askRename),
    onAddress: () => dialogs.address(info),
  });
  const bannerPart = mountBanner(banner, { onRetry: () => conn.retryNow() });
  const list = mountMessageList(scroller, pill);
  const invite = mountInvite(scroller, { onRename: askRename });
  const nameNotice = mountNameNotice(noticeBox, { onRename: askRename });
  const composer = mountComposer(form, { limitBytes: limits.max_message_bytes, placeholder: `Message ${roomName}` });
  const typing = mountTyping(typingLine);
  const title = mountTitle(roomName);
  const notifier = mountNotifier();
  if (!desktop.inDesktopWindow()) header.querySelector('.header-actions')?.append(notifier.button);
  const outbox = mountOutbox({
    send: (f) => conn.send(f),
    ready: () => welcomed && conn.state === 'online',
    onChange: (opts) => render(opts),
  });
  const renamer = mountRenamer((f) => welcomed && conn.send(f));
  const uploads = mountUploads(overlay, {
    maxBytes: () => limits.max_upload_bytes,
    onUploaded: (file) => outbox.enqueue({ file }),
    onChange: (opts) => render(opts),
    onProgress: () => renderSoon(),
  });
  const stopReloadGuard = mountReloadGuard(() => bannerPart.isDropped());
  desktop.routeLinksOutside(root, { signal });

  const on = (type, fn) => root.addEventListener(type, (e) => fn(e.detail ?? {}), { signal });
  on('chat:send', (d) => outbox.enqueue({ text: d.text }));
  on('chat:files', (d) => d.files.forEach((f) => uploads.start(f)));
  on('chat:typing', () => conn.send({ type: 'typing' }));
  on('chat:near-top', () => loadOlder());
  on('chat:load-older', () => loadOlder(true));
  on('chat:retry', (d) => outbox.retry(d.cmid));
  on('chat:discard', (d) => { outbox.discard(d.cmid); composer.focus(); });
  on('chat:cancel-upload', (d) => uploads.cancel(d.key));
  on('chat:retry-upload', (d) => uploads.retry(d.key));
  on('chat:dismiss-upload', (d) => uploads.dismiss(d.key));
  on('chat:open-image', (d) => dialogs.image(d.url, d.name));
  // A reload right after a message must still find it in the cache: save what is pending now.
  window.addEventListener('pagehide', () => saveNow(), { signal });
  conn.addEventListener('frame', (e) => onFrame(e.detail), { signal });
  conn.addEventListener('state', (e) => onState(e.detail), { signal });

  render({ forceBottom: true, quiet: true });
  renderHeader();
  conn.start();
  if (window.matchMedia('(pointer: fine)').matches) composer.focus();

  // State -> screen ---------------------------------------------------------------------------

  function renderHeader() {
    head.update({ roomName, state: connState.state, count: users.size, address: roomAddress(info), safetyCode: info.safety_code ?? null });
    // A new room, or one where only you ever spoke: invite. A room with a conversation in it
    // shows that conversation; its address stays one click away in the header.
    const alone = [...users.keys()].every((id) => id === me?.id)
      && !events.some((e) => e.type === 'message' && e.user?.id !== me?.id);
    invite.update({ info: { ...info, room: roomName }, me: welcomed ? me : null, alone });
  }

  function render(opts = {}) {
    cancelAnimationFrame(frame);
    frame = 0;
    list.render(roomItems({
      events, hasMoreBefore, loadingOlder, roomName, me, name,
      online: connState.state === 'online', outbox: outbox.items(), uploads: uploads.list(),
    }), opts);
  }

  function renderSoon() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
  }

  function saveSoon() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, 250);
  }

  function saveNow() {
    clearTimeout(saveTimer);
    saveTimer = 0;
    if (roomId) store.saveEvents(roomId, events);
  }

  // Frames from the host ----------------------------------------------------------------------

  function onState(detail) {
    connState = detail;
    if (detail.state !== 'online') {
      welcomed = false;
      outbox.disconnected();
    }
    if (detail.state === 'refused') {
      conn.stop();
      stopReloadGuard();
      onRefused?.(detail.reason);
      return;
    }
    renderHeader();
    bannerPart.update(detail);
    render();
  }

  function onFrame(f) {
    switch (f.type) {
      case 'welcome': onWelcome(f); break;
      case 'message': onMessage(f); break;
      case 'join':
      case 'rename':
        users.set(f.user.id, f.user);
        if (f.type === 'rename' && f.user.id === me?.id) onRenamed(f.user);
        addEvent(f);
        renderHeader();
        render();
        break;
      case 'leave':
        users.delete(f.user.id);
        addEvent(f);
        renderHeader();
        render();
        break;
      case 'typing':
        if (f.user && f.user.id !== me?.id) typing.typed(f.user);
        break;
      case 'error':
        if (!renamer.answer(f) && !outbox.refused(f)) announce(refusalText(f.code, f.detail));
        break;
      case 'closing': onClosing(f); break;
      default: break;
    }
  }

  async function onWelcome(w) {
    me = w.you;
    store.setMe(w.you);
    let fromWelcome = true;
    if (w.room_id !== roomId || w.reset) {
      if (roomId) store.dropEvents(roomId);
      const partial = !w.reset && sentSince !== null;
      roomId = w.room_id;
      events = [];
      list.reset();
      store.markJoined(w.room_id);
      if (partial) {
        // Events "after since" from another room's numbering: start from the newest page instead.
        events = (await fetchPage('')) ?? [];
        if (signal.aborted) return;
        fromWelcome = false;
      }
    }
    if (fromWelcome) events = mergeEvents(events, w.events);
    roomName = w.room;
    limits = { ...limits, ...(w.limits ?? {}) };
    composer.setLimit(limits.max_message_bytes);
    composer.setPlaceholder(`Message ${roomName}`);
    users = new Map(w.users.map((u) => [u.id, u]));
    if (w.name_taken && w.requested_name) nameNotice.show(w.requested_name, w.you.name);
    else nameNotice.hide();
    if (w.has_more_after) {
      events = await catchUp(events);
      if (signal.aborted) return;
    }
    hasMoreBefore = events.length > 0 && events[0].id > 1;
    outbox.ackFromHistory(events, me?.id);
    welcomed = true;
    saveSoon();
    renderHeader();
    title.setRoom(roomName);
    render({ quiet: true });
    outbox.pump();
  }

  function addEvent(ev) {
    const last = events[events.length - 1];
    if (!last || ev.id > last.id) events.push(ev);
    else events = mergeEvents(events, [ev]);
    saveSoon();
  }

  function onMessage(ev) {
    const own = ev.user?.id === me?.id;
    addEvent(ev);
    typing.done(ev.user?.id);
    if (own && ev.client_msg_id) outbox.acknowledge(ev.client_msg_id);
    if (!own) {
      if (isAway()) {
        title.bump();
        desktop.notify(`${ev.user.name} in ${roomName}`, ev.text || ev.file?.name || '');
        notifier.message(ev, me?.id, roomName);
      }
      if (!list.isStuck()) announce(`New message from ${ev.user.name}`);
    }
    render({ forceBottom: own, newFromOthers: !own });
  }

  /** The page before the oldest event shown. Scrolling asks again and again: after a failure
   *  it waits a little (the button still works at once), and a failure never ends history. */
  async function loadOlder(byHand = false) {
    if (loadingOlder || !hasMoreBefore || !events.length) return;
    if (!byHand && Date.now() - olderFailedAt < OLDER_RETRY_MS) return;
    loadingOlder = true;
    render({ prepend: true });
    const older = await fetchPage(`&before=${events[0].id}`, OLDER_PAGE);
    if (signal.aborted) return;
    if (older === null) {
      olderFailedAt = Date.now();
    } else {
      events = mergeEvents(older, events);
      hasMoreBefore = older.length > 0 && events[0].id > 1;
    }
    loadingOlder = false;
    render({ prepend: true });
  }

  // Your name ---------------------------------------------------------------------------------

  function askRename() {
    openRenameDialog(me?.name ?? name, (wanted) => renamer.ask(wanted));
  }

  /** The room took my new name: use it from now on, here and in the next hello. */
  function onRenamed(user) {
    me = user;
    name = user.name;
    store.setMe(user);
    store.setName(user.name);
    nameNotice.hide();
    renamer.took();
  }

  // Leaving -----------------------------------------------------------------------------------

  /** The host closed the room for good (see closed.js); it reopens if the same room returns. */
  function onClosing(f) {
    closedView?.stop();
    conn.stop();
    users.clear();
    renderHeader();
    head.closed();
    closedView = mountClosed(banner, f, {
      roomName, roomId, events: () => events, form,
      onReopen: () => { closedView = null; conn.start(); },
    });
  }

  async function backToLobby() {
    const url = await desktop.lobbyUrl();
    if (url) window.location.href = url;
  }

  function stop() {
    if (signal.aborted) return;
    ctl.abort(); // the root's, the window's and the connection's listeners
    conn.stop();
    stopReloadGuard();
    cancelAnimationFrame(frame);
    saveNow();
    closedView?.stop();
    for (const part of [outbox, uploads, renamer, typing, title, notifier, dialogs, bannerPart, head, list, invite, nameNotice, composer]) part.stop();
  }

  return { stop };
}
