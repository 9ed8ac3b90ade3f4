// The room's dialogs: who is online, how to join from another device, an image at full size.
// Each is built from what it is handed; stop() closes any of them still open, so a room that
// goes away leaves no modal over whatever replaces it.

import { h } from './dom.js';
import { icon } from './icons.js';
import { openDialog, copyField } from './dialogs.js';
import { t } from './i18n.js';
import { safetyNote } from './safety.js';
import { showImage } from './host-base.js';

const LOOPBACK = /\/\/(127\.|localhost|\[::1\])/;

/** Returns { people(users, meId, {onRename, onMessage, onRemove, onSignIn}), address(info), image(url, name), stop() }.
 *  `onRemove` is null unless this person may moderate, `onSignIn` null when they may. */
export function mountRoomDialogs() {
  const open = new Set();
  function show(...args) {
    const dialog = openDialog(...args);
    open.add(dialog);
    dialog.addEventListener('close', () => open.delete(dialog), { once: true });
    return dialog;
  }

  return {
    people(users, meId, { onRename, onMessage, onRemove = null, onSignIn = null }) {
      const people = [...users].sort((a, b) => a.name.localeCompare(b.name));
      let dialog = null;
      const then = (fn, u) => () => { dialog?.close(); fn(u); };
      const change = h('button', { type: 'button', class: 'link-btn', text: t('name.change'), onclick: then(onRename) });
      const actions = (u) => h('span', { class: 'people-actions' },
        h('button', { type: 'button', class: 'link-btn', text: t('actions.write'), 'aria-label': t('people.messageName', { name: u.name }), onclick: then(onMessage, u) }),
        onRemove ? h('button', { type: 'button', class: 'link-btn danger', text: t('people.remove'), 'aria-label': t('people.removeName', { name: u.name }), onclick: then(onRemove, u) }) : null);
      const list = h('ul', { class: 'people' }, people.map((u) => h('li', {},
        h('span', { class: 'avatar', 'aria-hidden': 'true', text: (u.name.trim()[0] ?? '?').toUpperCase() }),
        h('span', { class: 'people-name', text: u.name }),
        u.id === meId ? [h('span', { class: 'muted', text: ` ${t('people.youMark')}` }), change] : actions(u))));
      const body = [people.length ? list : h('p', { class: 'muted', text: t('people.nobody') })];
      if (onSignIn) body.push(h('p', { class: 'people-foot' }, h('button', { type: 'button', class: 'link-btn', text: t('mod.signInTitle'), onclick: then(onSignIn) })));
      else if (onRemove) body.push(h('p', { class: 'people-foot muted', text: t('people.youModerate') }));
      dialog = show(t('people.title', { count: people.length }), body);
    },
    address(info) {
      const urls = (info.urls ?? []).length ? info.urls : [window.location.origin + '/'];
      const lanUrls = urls.filter((u) => !LOOPBACK.test(u));
      const best = lanUrls[0] ?? urls[0];
      const qr = showImage(h('img', { class: 'qr', alt: t('invite.qr', { address: best }), width: 220, height: 220 }), `/api/qr.svg?text=${encodeURIComponent(best)}`);
      const body = [
        h('p', { text: t('address.how') }),
        h('div', { class: 'qr-box' }, qr),
        ...urls.map((u) => copyField(u, t('invite.addressLabel', { address: u }))),
        safetyNote(info, 'host'),
      ].filter(Boolean);
      if (!lanUrls.length) {
        body.push(h('p', { class: 'warning', text: t('invite.loopbackOnly') }));
      }
      show(t('address.title'), body, 'address-dialog');
    },
    image(url, name) {
      const body = [
        h('img', { class: 'full-image', src: url, alt: name }),
        h('p', { class: 'dialog-actions' }, h('a', { class: 'btn', href: url, download: name }, icon('download'), h('span', { text: t('msg.downloadTitle') }))),
      ];
      show(name, body, 'image-dialog');
    },
    stop() {
      for (const dialog of [...open]) dialog.close();
    },
  };
}
