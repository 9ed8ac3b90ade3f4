// File names that do not fit are cut in the middle, never at the end: the end is what tells
// "report-v2.3.1-linux.tar.gz" from "report-v2.3.1-windows.zip". CSS can only ellipsize the end
// of a run of text, so the name is split in two runs: a head that shrinks with an ellipsis and
// a tail that stays whole. The element's text is still the whole name (copy, screen readers).

import { h } from './dom.js';

const MAX_TAIL = 22;
const PLAIN_TAIL = 12;
const EXTENSION = /(\.[a-z0-9]{1,5}){1,2}$/i;

/** Split `name` into [head, tail]: the tail keeps the extension and the segment that tells
 *  versions and platforms apart (up to the last segment holding a digit), within MAX_TAIL. */
export function splitFileName(name) {
  const text = String(name ?? '');
  const ext = text.match(EXTENSION)?.[0] ?? '';
  const stem = text.slice(0, text.length - ext.length);
  const parts = stem.split(/(?<=[-_ ])/);
  let tail = ext;
  for (let i = parts.length - 1; i > 0; i -= 1) {
    const next = parts[i] + tail;
    if (next.length > MAX_TAIL) break;
    tail = next;
    if (/\d/.test(parts[i]) && tail.length >= PLAIN_TAIL) break;
  }
  if (tail.length < Math.min(PLAIN_TAIL, text.length / 2) || tail.length >= text.length) {
    tail = text.slice(-Math.min(PLAIN_TAIL, Math.floor(text.length / 2)));
  }
  return [text.slice(0, text.length - tail.length), tail];
}

/** The name as an element with class `className`, cut in the middle when it does not fit.
 * `dir: auto`: its two halves sit in the name's own direction, whatever the page's. */
export function fileNameEl(name, className = 'file-name') {
  const [head, tail] = splitFileName(name);
  return h('span', { class: `${className} mid-cut`, title: name, dir: 'auto' },
    h('span', { class: 'mid-cut-head', text: head }),
    h('span', { class: 'mid-cut-tail', text: tail }));
}
