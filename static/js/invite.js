// The first view of a room nobody else has joined yet: who you are here, and everything another
// person needs to come in (QR code, address, whether the password is needed), instead of an
// empty list. It steps aside as soon as someone else is in the room (or has spoken in it).

import { h } from './dom.js';
import { icon } from './icons.js';
import { copyField } from './dialogs.js';
import { t } from './i18n.js';
import { safetyNote } from './safety.js';
import { showImage } from './host-base.js';

const LOOPBACK = /\/\/(127\.|localhost|\[::1\])/;

/** The addresses of a room, the ones other devices can reach first. */
export function reachableUrls(info) {
  const urls = (info.urls ?? []).length ? info.urls : [window.location.origin + '/'];
  const lan = urls.filter((u) => !LOOPBACK.test(u));
  return { urls, lan, best: lan[0] ?? urls[0] };
}

/**
 * Mount the invitation inside `parent` (after the message list). `onRename()` is asked when the
 * person wants another name. Returns { update(state), stop() }; `state` has `info`, `me`
 * (null until welcomed) and `alone`.
 */
export function mountInvite(parent, { onRename }) {
  const section = h('section', { class: 'invite card', 'aria-labelledby': 'invite-title', hidden: true });
  parent.append(section);
  let shown = '';

  function build(info, me) {
    const { lan, best } = reachableUrls(info);
    const who = h('p', { class: 'invite-me' },
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: (me.name.trim()[0] ?? '?').toUpperCase() }),
      h('span', { class: 'muted', text: t('invite.youAre', { name: me.name }) }),
      h('button', { type: 'button', class: 'link-btn', text: t('name.change'), onclick: () => onRename() }));
    const lock = info.password
      ? h('p', { class: 'invite-lock' }, icon('lock'), h('span', { text: t('invite.lock') }))
      : h('p', { class: 'invite-lock' }, icon('users'), h('span', { text: t('invite.open') }));
    section.replaceChildren(...[
      h('h2', { id: 'invite-title', text: t('invite.title', { room: info.room }) }),
      h('div', { class: 'invite-body' },
        h('div', { class: 'qr-box' }, showImage(h('img', { class: 'qr', alt: t('invite.qr', { address: best }), width: 160, height: 160 }), `/api/qr.svg?text=${encodeURIComponent(best)}`)),
        h('div', { class: 'invite-how' },
          h('p', { text: t('invite.how') }),
          copyField(best, t('invite.addressLabel', { address: best })),
          lock)),
      safetyNote(info, 'host'),
      lan.length ? null : h('p', { class: 'warning', text: t('invite.loopbackOnly') }),
      who].filter(Boolean)); // replaceChildren would show a null as the text "null"
  }

  return {
    update({ info, me, alone }) {
      section.hidden = !(alone && me);
      if (section.hidden) {
        // Emptied, not just hidden: nothing of it lingers in the page (or its QR request).
        if (shown) section.replaceChildren();
        shown = '';
        return;
      }
      const key = JSON.stringify([info.room, info.password, info.urls, info.safety_code, me.name]);
      if (key !== shown) {
        shown = key;
        build(info, me);
      }
    },
    stop() { section.remove(); },
  };
}
