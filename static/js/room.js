// A room: composes the parts that show it (header, banner, conversation list, message list,
// composer, typing line, title, dialogs, search) with the outbox and the uploads, around one
// connection. Frames come in from the Connection; user actions come up from the parts as
// 'chat:*' events on `root`; what the list shows is computed from this state by roomItems(),
// for the conversation open (the room, or a private one). mountRoom returns stop(), which
// undoes all of it: every listener, timer, the connection and the uploads under way.

import { h, announce } from './dom.js';
import { icon } from './icons.js';
import { Connection } from './connection.js';
import { fileUrl, hostBase, hostFetch, setCredentials, sessionToken } from './host-base.js';
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
import { uuid, mergeEvents } from './util.js';
import { errorText } from './errors.js';
import { t } from './i18n.js';
import { foldMessages, scrubDeleted } from './message-state.js';
import { ROOM, conversationOf } from './conversations.js';
import { mountConversations } from './conv-state.js';
import { mountMessageActions } from './message-actions.js';
import { mountMessageCommands } from './message-commands.js';
import { mountMentions } from './mentions.js';
import { mountReadMarker } from './read-marker.js';
import { openSearch } from './search.js';
import { openRemoveDialog, openAdminSignIn } from './moderation.js';
import { toast } from './notice.js';

const OLDER_PAGE = 100; // events per page when reading back: fewer round trips to the start
const JUMP_PAGE = 500; // events per page when looking for a message to show (the host's most)
const JUMP_PAGES = 40;
const OLDER_RETRY_MS = 3000;
const DEFAULT_LIMITS = { max_message_bytes: 8192, max_upload_bytes: 4 * 1024 ** 3 };
// A host of a higher term may have given the last ids to other events than the host before
// it did: the page reads this many of its newest ids again from the new host.
const TERM_RECHECK = 200;

/**
 * Show the room `info` (from /api/room) in `root` and join it as `joinName`. `onRefused(reason)`
 * runs when the room will not let this page in (a password, a refused name). Returns { stop() }.
 */
export function mountRoom(root, info, joinName, { onRefused }) {
  const ctl = new AbortController();
  const { signal } = ctl;
  const clientId = store.clientId(uuid);
  store.shareClientId(clientId);
  setCredentials({ client: clientId });
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
  let olderPromise = null;
  let messages = new Map(); // every message in its current state (message-state.js)
  let admin = false;
  let search = null;
  let lineShown = false; // the first welcome scrolls to the "new messages" line
  let term = null; // the room's term at its host (a standby that took over serves term + 1)
  let diverged = false; // our host stepped down for another whose ids may differ from its own
  let notes = []; // lines this page adds to the list: where the room moved
  const marker = mountReadMarker();
  if (roomId) marker.start(roomId);

  const header = h('header', { class: 'room-header' });
  const banner = h('div', { class: 'banner', role: 'status', hidden: true });
  const pill = h('button', { type: 'button', class: 'new-pill', hidden: true }, icon('down'), h('span', { text: t('history.newMessages') }));
  const scroller = h('div', {
    class: 'scroller', tabIndex: 0, 'aria-label': t('room.history'),
    'aria-description': t('room.historyHelp'),
  });
  const typingLine = h('p', { class: 'typing', 'aria-live': 'polite' });
  const form = h('form', { class: 'composer', 'aria-label': t('room.compose') });
  const overlay = h('div', { class: 'drop-overlay', hidden: true, 'aria-hidden': 'true' },
    h('div', { class: 'drop-box' }, icon('attach'), h('p', { text: t('room.drop', { room: roomName }) })));
  const main = h('main', { class: 'room-main' }, scroller, pill);
  const noticeBox = h('div');
  const nav = h('nav');
  const pane = h('section', { class: 'conv-pane', 'aria-label': t('room.conversation') }, main, typingLine, form);
  const roomEl = h('div', { class: 'room' }, header, banner, noticeBox, h('div', { class: 'room-body' }, nav, pane));
  root.replaceChildren(roomEl, overlay);
  const convs = mountConversations(roomEl, nav, { onOpen: (key) => openConversation(key) });
  pane.prepend(convs.head);

  const conn = new Connection(() => {
    sentSince = events.length ? events[events.length - 1].id : null;
    const session = sessionToken(); // a new host of a room with a password knows us by it
    // read_only: a standby may show this page its copy of the room while no host serves it.
    return { name, client_id: clientId, since: sentSince, read_only: true, ...(session ? { session } : {}) };
  }, () => roomId);
  const saved = roomId ? store.follow(roomId) : null;
  if (saved) conn.remember([saved.host, ...(saved.successors ?? [])].filter((u) => typeof u === 'string'));
  const dialogs = mountRoomDialogs();
  const head = mountHeader(header, {
    onBack: backToLobby,
    onPeople: () => dialogs.people(users.values(), me?.id, {
      onRename: askRename,
      onMessage: messagePrivately,
      onRemove: admin ? (u) => openRemoveDialog(u, (minutes) => commands.moderate(u.id, minutes)) : null,
      onSignIn: admin ? null : () => openAdminSignIn(() => { conn.stop(); conn.start(); }),
    }),
    onAddress: () => dialogs.address(info),
    onList: () => convs.toggleList(),
    onSearch: () => openSearchPanel(),
  });
  const bannerPart = mountBanner(banner, { onRetry: () => conn.retryNow() });
  const list = mountMessageList(scroller, pill);
  const actions = mountMessageActions(scroller, list.element, { onLeave: () => composer.focus() });
  const invite = mountInvite(scroller, { onRename: askRename });
  const nameNotice = mountNameNotice(noticeBox, { onRename: askRename });
  const composer = mountComposer(form, { limitBytes: limits.max_message_bytes, placeholder: t('room.placeholder', { room: roomName }) });
  const typing = mountTyping(typingLine);
  const title = mountTitle(roomName, { onBack: () => { marker.back(); convs.back(); renderHeader(); render(); } });
  const notifier = mountNotifier();
  if (!desktop.inDesktopWindow()) header.querySelector('.header-actions')?.append(notifier.button);
  const commands = mountMessageCommands(form, composer, {
    send: (f) => welcomed && conn.send(f),
    enqueue: (item) => outbox.enqueue(item),
    message: (id) => messages.get(id),
    target: () => convs.target(),
    me: () => me,
    ownMessages: () => [...messages.values()].filter((m) => m.user?.id === me?.id && conversationOf(m, me?.id) === convs.current()),
    onRefused: (text) => toast(text),
    limits: () => limits,
  });
  const mentions = mountMentions(form, composer.textarea, { people: () => [...users.values()].filter((u) => u.id !== me?.id) });
  const outbox = mountOutbox({
    send: (f) => conn.send(f),
    ready: () => welcomed && conn.state === 'online',
    onChange: (opts) => render(opts),
  });
  const renamer = mountRenamer((f) => welcomed && conn.send(f));
  const uploads = mountUploads(overlay, {
    maxBytes: () => limits.max_upload_bytes,
    onUploaded: (file, up) => outbox.enqueue({ file, to: up.to }),
    extra: () => convs.target(),
    onChange: (opts) => render(opts),
    onProgress: () => renderSoon(),
  });
  const stopReloadGuard = mountReloadGuard(() => bannerPart.isDropped());
  desktop.routeLinksOutside(root, { signal });

  const on = (type, fn) => root.addEventListener(type, (e) => fn(e.detail ?? {}), { signal });
  on('chat:send', (d) => commands.submit(d.text));
  on('chat:reply', (d) => commands.reply(d.id));
  on('chat:edit', (d) => commands.edit(d.id));
  on('chat:edit-last', () => commands.editLast());
  on('chat:cancel-context', () => commands.cancel());
  on('chat:delete', (d) => commands.remove(d.id));
  on('chat:react', (d) => commands.react(Number(d.target), d.emoji, d.on === '1'));
  on('chat:jump', (d) => jumpTo(Number(d.target)));
  on('chat:write', (d) => { const author = messages.get(d.id)?.user; if (author) messagePrivately(author); });
  on('chat:files', (d) => d.files.forEach((f) => uploads.start(f)));
  on('chat:typing', () => conn.send({ type: 'typing' }));
  on('chat:near-top', () => loadOlder());
  on('chat:load-older', () => loadOlder(true));
  on('chat:retry', (d) => outbox.retry(d.cmid));
  on('chat:discard', (d) => { outbox.discard(d.cmid); composer.focus(); });
  on('chat:cancel-upload', (d) => uploads.cancel(d.key));
  on('chat:retry-upload', (d) => uploads.retry(d.key));
  on('chat:dismiss-upload', (d) => uploads.dismiss(d.key));
  on('chat:open-image', (d) => fileUrl(d.url).then((url) => dialogs.image(url, d.name), () => toast(t('msg.downloadFailed', { name: d.name }))));
  // A reload right after a message must still find it in the cache: save what is pending now.
  window.addEventListener('pagehide', () => saveNow(), { signal });
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k') {
      e.preventDefault();
      openSearchPanel();
    }
  }, { signal });
  conn.addEventListener('frame', (e) => onFrame(e.detail), { signal });
  conn.addEventListener('state', (e) => onState(e.detail), { signal });
  conn.addEventListener('moved', (e) => onMoved(e.detail), { signal });

  render({ forceBottom: true, quiet: true });
  renderHeader();
  conn.start();
  if (window.matchMedia('(pointer: fine)').matches) composer.focus();

  // State -> screen ---------------------------------------------------------------------------

  function renderHeader() {
    head.update({ roomName, state: connState.state, count: users.size, address: roomAddress(info), safetyCode: info.safety_code ?? null, unreadElsewhere: convs.elsewhere() });
    // A new room, or one where only you ever spoke: invite. A room with a conversation in it
    // shows that conversation; its address stays one click away in the header.
    const alone = [...users.keys()].every((id) => id === me?.id)
      && !events.some((e) => e.type === 'message' && e.user?.id !== me?.id);
    invite.update({ info: { ...info, room: roomName }, me: welcomed ? me : null, alone });
  }

  function render(opts = {}) {
    cancelAnimationFrame(frame);
    frame = 0;
    messages = foldMessages(events);
    const conv = convs.current();
    const partner = convs.update({ roomName, messages, meId: me?.id, users });
    list.render(roomItems({
      events, messages, conv, partnerName: partner?.name ?? null, admin, unreadAfter: marker.after(),
      hasMoreBefore, loadingOlder, roomName, me, name, notes,
      online: connState.state === 'online', outbox: outbox.items(), uploads: uploads.list(),
    }), opts);
    actions.refresh();
    if (!isAway() && list.isStuck()) {
      const shown = [...messages.values()].filter((m) => conversationOf(m, me?.id) === conv);
      if (shown.length) marker.seen(shown[shown.length - 1].id);
    }
  }

  /** Show conversation `key` (the room, or a private one), with its unread count cleared. */
  function openConversation(key, { focus = true } = {}) {
    if (key !== convs.current()) commands.clear();
    convs.open(key);
    render({ forceBottom: true, quiet: true });
    const person = convs.update({ roomName, messages, meId: me?.id, users });
    composer.setPlaceholder(person ? t('room.placeholderPrivate', { name: person.name }) : t('room.placeholder', { room: roomName }));
    renderHeader();
    if (focus) composer.focus();
  }

  function messagePrivately(user) {
    openConversation(convs.remember(user));
  }

  function openSearchPanel() {
    if (search?.dialog.open) return;
    search = openSearch({ send: (f) => welcomed && conn.send(f), onJump: (id) => jumpTo(id), meId: me?.id });
  }

  /** Show message `id`, reading back through history for it when it is not loaded yet. */
  async function jumpTo(id) {
    for (let page = 0; !messages.has(id) && hasMoreBefore && events.length && events[0].id > id && page < JUMP_PAGES; page += 1) {
      if (!(await loadOlder(true, JUMP_PAGE)) || signal.aborted) break;
    }
    const msg = messages.get(id);
    if (!msg) {
      toast(t('room.notInHistory'));
      return;
    }
    const key = conversationOf(msg, me?.id);
    if (key !== convs.current()) openConversation(key, { focus: false });
    if (!list.reveal(id)) toast(t('room.notInHistory'));
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
    composer.setReadOnly(detail.state === 'reading');
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
        if (renamer.answer(f) || outbox.refused(f)) break;
        // An edit, delete, reaction or removal of ours was refused: say so where it shows.
        if (f.client_msg_id) toast(errorText(f.code, f.detail));
        else announce(errorText(f.code, f.detail));
        break;
      case 'closing': onClosing(f); break;
      case 'moved': if (f.diverged === true) diverged = true; break;
      case 'edit':
      case 'react':
      case 'remove':
        addEvent(f);
        // A message redrawn for a reaction or an edit is not news: the list does not read it out again.
        render({ quiet: f.type !== 'remove' });
        break;
      case 'delete':
        addEvent(f);
        events = scrubDeleted(events, f.target); // its words leave this page's cache too
        render({ quiet: true });
        break;
      case 'results': search?.results(f); break;
      case 'successors': conn.setSuccessors(f.urls); break;
      default: break;
    }
  }

  async function onWelcome(w) {
    me = w.you;
    if (w.admin === true && !admin && welcomed === false && sentSince !== null) toast(t('room.nowModerator'), { failed: false });
    admin = w.admin === true;
    marker.start(w.room_id);
    store.setMe(w.you);
    if (typeof w.session === 'string' && w.session) setCredentials({ token: w.session });
    conn.setSuccessors(w.successors);
    // A standby's read-only copy is not where the room is served: the page goes on following
    // the room's hosts, and its outbox waits for one of them.
    const readOnly = w.read_only === true;
    if (!readOnly) store.setFollow(w.room_id, { host: hostBase(), successors: conn.successors });
    // A standby that took over serves a higher term: what this page holds above its last id
    // never reached it, and is dropped from view (the welcome is the truth; our own go again).
    // So does a host that another one outranked (a split healed): the same term, other ids.
    const higher = Number.isInteger(w.term) && Number.isInteger(term) && w.term > term;
    const newTerm = (higher || (diverged && !readOnly)) && w.room_id === roomId && events.length > 0;
    if (!readOnly) diverged = false;
    if (Number.isInteger(w.term)) term = w.term;
    if (newTerm) events = events.filter((e) => e.id <= w.last_id);
    let fromWelcome = true;
    let fresh = w.events; // what this host showed: it has these
    if (w.room_id !== roomId || (w.reset && !newTerm)) {
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
        fresh = events;
      }
    }
    if (fromWelcome) events = mergeEvents(events, w.events);
    roomName = w.room;
    limits = { ...limits, ...(w.limits ?? {}) };
    composer.setLimit(limits.max_message_bytes);
    composer.setPlaceholder(t('room.placeholder', { room: roomName }));
    users = new Map(w.users.map((u) => [u.id, u]));
    if (w.name_taken && w.requested_name) nameNotice.show(w.requested_name, w.you.name);
    else nameNotice.hide();
    if (w.has_more_after || newTerm) {
      const last = events[events.length - 1]?.id ?? 0;
      const from = newTerm ? Math.max(0, (events.length ? last : w.last_id) - TERM_RECHECK) : last;
      const read = await catchUp(newTerm ? events.filter((e) => e.id <= from) : events);
      if (signal.aborted) return;
      // A re-read that did not get as far as what the page held failed: keep what it held.
      if (!newTerm || (read[read.length - 1]?.id ?? 0) >= Math.min(last, w.last_id)) {
        events = read;
        fresh = [...fresh, ...events.filter((e) => e.id > from)];
      }
    }
    hasMoreBefore = events.length > 0 && events[0].id > 1;
    if (!readOnly) {
      outbox.ackFromHistory(fresh, me?.id);
      outbox.resendAfterMove(new Set(fresh.map((e) => e.client_msg_id).filter(Boolean)));
    }
    welcomed = true;
    saveSoon();
    renderHeader();
    title.setRoom(roomName);
    render({ quiet: true });
    if (!lineShown) {
      lineShown = true;
      list.showUnreadLine();
    }
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
    // Ours again, from a host that stored it under another id (resent after a take-over).
    if (own && ev.client_msg_id) events = events.filter((e) => e.client_msg_id !== ev.client_msg_id || e.id === ev.id || e.type !== 'message');
    addEvent(ev);
    typing.done(ev.user?.id);
    if (own && ev.client_msg_id) outbox.acknowledge(ev.client_msg_id, ev.id);
    const key = conversationOf(ev, me?.id);
    if (!own) {
      const mention = (ev.mentions ?? []).includes(me?.id);
      if (isAway()) {
        title.bump(mention || key !== ROOM);
        const said = { name: ev.user.name, room: roomName };
        const heading = key === ROOM ? t(mention ? 'notify.titleMention' : 'notify.titleIn', said)
          : t(mention ? 'notify.mentionPrivately' : 'notify.privately', said);
        desktop.notify(heading, ev.text || ev.file?.name || '');
        notifier.message(ev, me?.id, roomName);
      }
      if (key !== convs.current() || isAway()) {
        convs.arrived(key, mention);
        renderHeader();
      }
      if (key !== convs.current()) announce(key === ROOM ? t('room.newIn', { room: roomName }) : t('room.privateFrom', { name: ev.user.name }));
      else if (!list.isStuck()) announce(t('room.newFrom', { name: ev.user.name }));
    }
    const here = key === convs.current();
    render({ forceBottom: own && here, newFromOthers: !own && here });
  }

  /** The page before the oldest event shown. Scrolling asks again and again: after a failure
   *  it waits a little (the button still works at once), and a failure never ends history. */
  function loadOlder(byHand = false, size = OLDER_PAGE) {
    if (loadingOlder) return olderPromise;
    if (!hasMoreBefore || !events.length) return Promise.resolve(false);
    if (!byHand && Date.now() - olderFailedAt < OLDER_RETRY_MS) return Promise.resolve(false);
    loadingOlder = true;
    render({ prepend: true });
    olderPromise = (async () => {
      const older = await fetchPage(`&before=${events[0].id}`, size);
      if (signal.aborted) return false;
      if (older === null) {
        olderFailedAt = Date.now();
      } else {
        events = mergeEvents(older, events);
        hasMoreBefore = older.length > 0 && events[0].id > 1;
      }
      loadingOlder = false;
      render({ prepend: true });
      return older !== null;
    })();
    return olderPromise;
  }

  // The room moved ----------------------------------------------------------------------------

  /** Another host serves the room now (connection.js switched): say so, and ask it what it is. */
  async function onMoved({ to }) {
    const address = new URL(to).host;
    notes = [...notes, { key: `moved-${notes.length}`, after: events[events.length - 1]?.id ?? 0, ts: new Date().toISOString(), text: t('room.moved', { address }) }];
    announce(t('room.moved', { address }));
    try {
      const res = await hostFetch('/api/room', { cache: 'no-store' });
      const fresh = res.ok ? await res.json() : null;
      if (signal.aborted || hostBase() !== to || fresh?.room_id !== roomId) return;
      // Its addresses (the QR code, the header) and its certificate's safety code.
      info = { ...info, ...fresh };
      renderHeader();
    } catch { /* the old addresses stay shown */ }
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
    search?.dialog.close();
    for (const part of [outbox, uploads, renamer, typing, title, notifier, dialogs, bannerPart, head, list, invite, nameNotice, composer, actions, commands, mentions, convs]) part.stop();
  }

  return { stop };
}
