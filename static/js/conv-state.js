// Which conversation the room shows (the room itself, or a private one with one person), the
// list to switch between them with its unread counts, and the line over a private one saying
// who it is with. The messages themselves stay in the room's one history; this only chooses.

import { h } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';
import { ROOM, privateKey, partnerOf, privateConversations } from './conversations.js';
import { mountConversationList } from './conv-list.js';

/**
 * `roomEl` (toggles `.list-open`, a phone's list screen), the list's `nav`; `onOpen(key)` asks
 * the room to show a conversation. Returns { head, current(), target(), open(key), remember(user),
 * arrived(key, mention), elsewhere(), toggleList(), update(state), stop() }.
 */
export function mountConversations(roomEl, nav, { onOpen }) {
  let conv = ROOM;
  const opened = new Map(); // private conversations opened before their first message
  const unread = new Map(); // conversation -> {count, mention}, counted while not shown
  const list = mountConversationList(nav, { onOpen });
  const name = h('h2', { class: 'conv-title-name' });
  const head = h('div', { class: 'conv-head', hidden: true },
    h('button', { type: 'button', class: 'icon-btn conv-back', 'aria-label': t('conv.backToRoom'), title: t('conv.backToRoom'), onclick: () => onOpen(ROOM) }, icon('back', 'flip-rtl')),
    icon('lock'), name, h('span', { class: 'conv-note', text: t('conv.onlyTwo') }));

  return {
    head,
    current: () => conv,
    /** What a message sent now carries: `to` in a private conversation. */
    target: () => (partnerOf(conv) ? { to: partnerOf(conv) } : {}),
    open(key) {
      roomEl.classList.remove('list-open');
      conv = key;
      unread.delete(key);
    },
    /** A private conversation with `user`, listed even before its first message. */
    remember(user) {
      const key = privateKey(user.id);
      opened.set(key, user);
      return key;
    },
    /** A message from someone else arrived in `key` while it was not in front of the person. */
    arrived(key, mention) {
      const u = unread.get(key) ?? { count: 0, mention: false };
      unread.set(key, { count: u.count + 1, mention: u.mention || mention });
    },
    /** The person is back in front of the open conversation: nothing there is unread now. */
    back() { unread.delete(conv); },
    /** Unread messages in the conversations not shown. */
    elsewhere() {
      let n = 0;
      for (const [key, u] of unread) if (key !== conv) n += u.count;
      return n;
    },
    toggleList() {
      if (roomEl.classList.toggle('list-open')) list.focusActive();
    },
    /** Redraw from `messages` (folded); returns the open private conversation's person, or null. */
    update({ roomName, messages, meId, users }) {
      const convs = privateConversations(messages, meId, opened, users);
      const partner = convs.find((c) => c.key === conv)?.user ?? null;
      list.update({ roomName, active: conv, convs, unread });
      head.hidden = conv === ROOM;
      name.textContent = partner ? t('conv.privateWith', { name: partner.name }) : '';
      return partner;
    },
    stop() { list.stop(); },
  };
}
