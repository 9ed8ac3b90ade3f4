// Where this person stopped reading, for the "new messages" line: the newest id seen while the
// window was in front and the list at its bottom, kept per room in page storage. The line sits
// where the person stopped when they opened the room, and moves when they come back to the
// window after being away; reading on does not move it under their eyes.

import * as store from './storage.js';

/** Returns { start(roomId), seen(id), back(), after() }. */
export function mountReadMarker() {
  let roomId = null;
  let saved = null;
  let line = null;
  return {
    /** The room is known (again): the line goes where the person last stopped in it. */
    start(id) {
      if (id === roomId) return;
      roomId = id;
      saved = store.lastRead(id);
      line = saved;
    },
    /** The person has seen everything up to `id`. */
    seen(id) {
      if (!roomId || !Number.isInteger(id) || (saved !== null && id <= saved)) return;
      saved = id;
      store.setLastRead(roomId, id);
    },
    /** The person came back to the window: the line moves to where they had stopped. */
    back() { line = saved; },
    /** The id after which messages are new (null: no line). */
    after: () => line,
  };
}
