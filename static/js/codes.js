// The protocol's numbers and codes, named once (README "Protocol" lists them). Everything the
// client decides is decided on these and on fields such as `retry_after`; `reason` and `detail`
// are sentences for people and are only ever shown, never parsed.

/** WebSocket close codes: 4000-4999 are the room's own, the rest are the standard ones. */
export const CLOSE = Object.freeze({
  NORMAL: 1000, // this page left on purpose
  GOING_AWAY: 1001, // the host is shutting down (after a `closing` event: closed for good)
  MOVED: 4301, // the host handed the room over (after a `moved` event naming where it went)
  TOO_BIG: 1009, // a frame over the host's limit
  NO_PONG: 4000, // this page gave up on a link that stopped answering pings
  BAD_HELLO: 4400, // the hello was refused (the reason says why)
  UNAUTHORIZED: 4401, // the room needs its password
  FORBIDDEN: 4403, // a page from another origin or host
  TOO_SLOW: 4408, // this page stopped reading; reconnecting catches up
  TOO_MANY: 4429, // the room is full, or this page joined too often: wait `retry_after`
  REMOVED: 4410, // a moderator removed this person for a while (the reason says until when)
});

/** Close codes that retrying cannot fix, with the key (static/i18n) of what to tell the person. */
export const REFUSALS = new Map([
  [CLOSE.BAD_HELLO, 'refused.hello'],
  [CLOSE.UNAUTHORIZED, 'refused.password'],
  [CLOSE.FORBIDDEN, 'refused.origin'],
  [CLOSE.REMOVED, 'refused.removed'],
]);

/** The `code` of `error` frames. */
export const ERROR = Object.freeze({
  BAD_JSON: 'bad_json',
  BAD_FRAME: 'bad_frame',
  BAD_FIELD: 'bad_field',
  BAD_NAME: 'bad_name',
  UNKNOWN_TYPE: 'unknown_type',
  EMPTY: 'empty',
  TOO_LONG: 'too_long',
  RATE_LIMITED: 'rate_limited',
  UNKNOWN_FILE: 'unknown_file',
  STORE_FAILED: 'store_failed',
  TOO_MANY_JOINS: 'too_many_joins',
  NAME_TAKEN: 'name_taken',
  SAME_NAME: 'same_name',
  FORBIDDEN: 'forbidden',
  UNKNOWN_TARGET: 'unknown_target',
  UNKNOWN_USER: 'unknown_user',
  BAD_EMOJI: 'bad_emoji',
  TOO_MANY_REACTIONS: 'too_many_reactions',
  READ_ONLY: 'read_only', // a standby reading out the room's copy stores nothing
});

/** Seconds to wait from an error's `retry_after` field; `fallback` when the host sent none. */
export function retryAfterSeconds(frame, fallback = 1) {
  const secs = frame?.retry_after;
  return typeof secs === 'number' && Number.isFinite(secs) && secs >= 0 ? secs : fallback;
}
