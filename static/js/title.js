// The window's title and the desktop app's unread badge: "(3) Room · LAN Chat" while messages
// arrive unseen ("(3 · @1) Room · LAN Chat" when one of them names you), back to "Room · LAN
// Chat" when the person returns to the window.

import * as desktop from './desktop.js';
import { t } from './i18n.js';

/** The person is not looking: another tab, a minimised window, or another app in front. */
export function isAway() {
  return document.hidden || !document.hasFocus();
}

/** Shows `roomName` in the title. `onBack()` runs when the person returns to the window.
 *  Returns { setRoom(name), bump(mention), stop() }. */
export function mountTitle(roomName, { onBack } = {}) {
  const ctl = new AbortController();
  let name = roomName;
  let unread = 0;
  let mentions = 0;

  function show() {
    const base = t('app.titleRoom', { room: name });
    const count = mentions ? `${unread} · @${mentions}` : `${unread}`;
    document.title = unread ? `(${count}) ${base}` : base;
    desktop.setUnread(unread, name);
  }

  function clear() {
    if (isAway()) return;
    onBack?.();
    if (unread === 0) return;
    unread = 0;
    mentions = 0;
    show();
  }

  window.addEventListener('focus', clear, { signal: ctl.signal });
  document.addEventListener('visibilitychange', clear, { signal: ctl.signal });
  show();
  return {
    setRoom(value) { name = value; show(); },
    /** One more message arrived while the person was away (`mention`: it names them). */
    bump(mention = false) { unread += 1; if (mention) mentions += 1; show(); },
    stop() { ctl.abort(); },
  };
}
