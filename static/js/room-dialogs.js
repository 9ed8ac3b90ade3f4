// The room's dialogs: who is online, how to join from another device, an image at full size.
// Each is built from what it is handed; stop() closes any of them still open, so a room that
// goes away leaves no modal over whatever replaces it.

import { h } from './dom.js';
import { icon } from './icons.js';
import { openDialog, copyField } from './dialogs.js';
import { plural } from './util.js';
import { safetyNote } from './safety.js';

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
      const change = h('button', { type: 'button', class: 'link-btn', text: 'Change name', onclick: then(onRename) });
      const actions = (u) => h('span', { class: 'people-actions' },
        h('button', { type: 'button', class: 'link-btn', text: 'Message privately', 'aria-label': `Message ${u.name} privately`, onclick: then(onMessage, u) }),
        onRemove ? h('button', { type: 'button', class: 'link-btn danger', text: 'Remove…', 'aria-label': `Remove ${u.name} from the room`, onclick: then(onRemove, u) }) : null);
      const list = h('ul', { class: 'people' }, people.map((u) => h('li', {},
        h('span', { class: 'avatar', 'aria-hidden': 'true', text: (u.name.trim()[0] ?? '?').toUpperCase() }),
        h('span', { class: 'people-name', text: u.name }),
        u.id === meId ? [h('span', { class: 'muted', text: ' (you)' }), change] : actions(u))));
      const body = [people.length ? list : h('p', { class: 'muted', text: 'Nobody is connected right now.' })];
      if (onSignIn) body.push(h('p', { class: 'people-foot' }, h('button', { type: 'button', class: 'link-btn', text: 'Sign in as moderator', onclick: then(onSignIn) })));
      else if (onRemove) body.push(h('p', { class: 'people-foot muted', text: 'You are a moderator here.' }));
      dialog = show(`${plural(people.length, 'person', 'people')} online`, body);
    },
    address(info) {
      const urls = (info.urls ?? []).length ? info.urls : [window.location.origin + '/'];
      const lanUrls = urls.filter((u) => !LOOPBACK.test(u));
      const best = lanUrls[0] ?? urls[0];
      const qr = h('img', { class: 'qr', src: `/api/qr.svg?text=${encodeURIComponent(best)}`, alt: `QR code for ${best}`, width: 220, height: 220 });
      const body = [
        h('p', { text: 'Anyone on the same network can join from a phone or a browser: scan the code or type the address.' }),
        h('div', { class: 'qr-box' }, qr),
        ...urls.map((u) => copyField(u, `Room address ${u}`)),
        safetyNote(info, 'host'),
      ].filter(Boolean);
      if (!lanUrls.length) {
        body.push(h('p', { class: 'warning', text: 'This room only listens on this computer, so other devices cannot reach it. Host it on your network to share it.' }));
      }
      show('Join from another device', body, 'address-dialog');
    },
    image(url, name) {
      const body = [
        h('img', { class: 'full-image', src: url, alt: name }),
        h('p', { class: 'dialog-actions' }, h('a', { class: 'btn', href: url, download: name }, icon('download'), h('span', { text: 'Download' }))),
      ];
      show(name, body, 'image-dialog');
    },
    stop() {
      for (const dialog of [...open]) dialog.close();
    },
  };
}
