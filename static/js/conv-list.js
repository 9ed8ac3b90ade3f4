// The list of conversations: the room first, then the people this person talks to privately,
// each with its unread count and a dot when someone mentioned them there. Beside the messages
// on a wide window; on a phone it is its own screen (the room toggles `.list-open`).

import { h } from './dom.js';
import { icon } from './icons.js';
import { ROOM } from './conversations.js';
import { t } from './i18n.js';

/** Owns `nav`; `onOpen(key)` opens a conversation. Returns { update(state), focusActive(), stop() }. */
export function mountConversationList(nav, { onOpen }) {
  nav.classList.add('conv-list');
  nav.setAttribute('aria-label', t('header.conversations'));
  const ul = h('ul', { class: 'conv-items' });
  const heading = h('h2', { class: 'conv-heading', text: t('conv.private') });
  const empty = h('p', { class: 'conv-empty', text: t('conv.empty') });
  nav.replaceChildren(ul, heading, empty);
  const privates = h('ul', { class: 'conv-items' });
  heading.after(privates);
  nav.addEventListener('click', (event) => {
    const b = event.target.closest('button[data-conv]');
    if (b) onOpen(b.dataset.conv);
  });

  function row({ key, label, online, unread, mention, active, isRoom }) {
    const count = unread?.count ?? 0;
    const parts = [label];
    if (count) parts.push(t('conv.unread', { count }));
    if (mention) parts.push(t('conv.mentionsYou'));
    return h('li', {}, h('button', {
      type: 'button', class: `conv${active ? ' active' : ''}`, dataset: { conv: key },
      'aria-current': active ? 'page' : null, 'aria-label': parts.join(', '),
    },
    // The initial is drawn by CSS (data-initial) and the parts are spaced, so the words seen
    // read in order within the button's name (a label that contains what is shown).
    h('span', {
      class: `conv-icon${online ? ' online' : ''}`, 'aria-hidden': 'true',
      dataset: isRoom ? {} : { initial: (label.trim()[0] ?? '?').toUpperCase() },
    }, isRoom ? icon('chat') : null),
    h('span', { class: 'conv-name', text: label }),
    mention ? [' ', h('span', { class: 'conv-mention', 'aria-hidden': 'true', text: '@' })] : null,
    count ? [' ', h('span', { class: 'conv-badge', 'aria-hidden': 'true', text: count > 99 ? '99+' : String(count) })] : null));
  }

  return {
    /** `state`: { roomName, active, convs: [{key, user, online}], unread: Map key -> {count, mention} }. */
    update({ roomName, active, convs, unread }) {
      const hadFocus = nav.contains(document.activeElement) ? document.activeElement.dataset.conv : null;
      const u = (key) => unread.get(key) ?? { count: 0, mention: false };
      ul.replaceChildren(row({ key: ROOM, label: roomName, isRoom: true, unread: u(ROOM), mention: u(ROOM).mention, active: active === ROOM }));
      privates.replaceChildren(...convs.map((c) => row({
        key: c.key, label: c.user.name, online: c.online, unread: u(c.key), mention: u(c.key).mention, active: active === c.key,
      })));
      empty.hidden = convs.length > 0;
      if (hadFocus) nav.querySelector(`button[data-conv="${CSS.escape(hadFocus)}"]`)?.focus();
    },
    focusActive() { nav.querySelector('button.active')?.focus(); },
    stop() { nav.replaceChildren(); },
  };
}
