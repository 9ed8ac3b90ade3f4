// What the host refused, in the person's language. The host's `detail` and close `reason` are
// English sentences for logs; the UI decides on the `code` (or HTTP status) and says it with a
// key of its own, showing the host's words only for a code this page does not know.

import { t } from './i18n.js';
import { ERROR, REFUSALS } from './codes.js';

const ERROR_KEYS = new Map([
  [ERROR.TOO_LONG, 'error.tooLong'],
  [ERROR.EMPTY, 'error.empty'],
  [ERROR.UNKNOWN_FILE, 'error.unknownFile'],
  [ERROR.STORE_FAILED, 'error.storeFailed'],
  [ERROR.RATE_LIMITED, 'error.rateLimited'],
  [ERROR.NAME_TAKEN, 'error.nameTaken'],
  [ERROR.BAD_NAME, 'error.badName'],
  [ERROR.TOO_MANY_JOINS, 'error.tooManyJoins'],
  [ERROR.BAD_JSON, 'error.badFrame'],
  [ERROR.BAD_FRAME, 'error.badFrame'],
  [ERROR.BAD_FIELD, 'error.badFrame'],
  [ERROR.UNKNOWN_TYPE, 'error.badFrame'],
  [ERROR.FORBIDDEN, 'error.forbidden'],
  [ERROR.UNKNOWN_TARGET, 'error.unknownTarget'],
  [ERROR.UNKNOWN_USER, 'error.unknownUser'],
  [ERROR.BAD_EMOJI, 'error.badEmoji'],
  [ERROR.TOO_MANY_REACTIONS, 'error.tooManyReactions'],
  [ERROR.READ_ONLY, 'composer.readOnly'],
]);

/** An `error` frame's `code` as a sentence; the host's detail only for an unknown code. */
export function errorText(code, detail = '') {
  const key = ERROR_KEYS.get(code);
  if (key) return t(key);
  return detail ? t('error.otherDetail', { detail }) : t('error.other', { code: String(code) });
}

/** Why the room will not let this page in, from the WebSocket close code. */
export function refusalReason(code) {
  return t(REFUSALS.get(code) ?? 'refused.hello');
}

/** An HTTP refusal of an upload as a sentence (413 too large, 507 host full, 429 too many...). */
export function uploadRefusal(status) {
  if (status === 413) return t('upload.tooLarge');
  if (status === 507) return t('upload.diskFull');
  if (status === 429) return t('upload.tooMany');
  if (status >= 500) return t('upload.hostError', { status: String(status) });
  return t('upload.refused', { status: String(status) });
}
