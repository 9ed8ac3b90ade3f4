// The window's title and the desktop app's unread badge: "(3) Room · LAN Chat" while messages
// arrive unseen, back to "Room · LAN Chat" when the person returns to the window.

import * as desktop from './desktop.js';

/** The person is not looking: another tab, a minimised window, or another app in front. */
export function isAway() {
  return document.hidden || !document.hasFocus();
}

/** Shows `roomName` in the title. Returns { setRoom(name), bump(), stop() }. */
export function mountTitle(roomName) {
  const ctl = new AbortController();
  let name = roomName;
  let unread = 0;

  function show() {
    const base = `${name} · LAN Chat`;
    document.title = unread ? `(${unread}) ${base}` : base;
    desktop.setUnread(unread, name);
  }

  function clear() {
    if (isAway() || unread === 0) return;
    unread = 0;
    show();
  }

  window.addEventListener('focus', clear, { signal: ctl.signal });
  document.addEventListener('visibilitychange', clear, { signal: ctl.signal });
  show();
  return {
    setRoom(value) { name = value; show(); },
    /** One more message arrived while the person was away. */
    bump() { unread += 1; show(); },
    stop() { ctl.abort(); },
  };
}
