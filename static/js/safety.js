// The room's safety code: digits made from its certificate's fingerprint (server/tls.py), for
// two people to compare aloud. Same digits on both screens: nobody is in between.

import { h } from './dom.js';
import { icon } from './icons.js';

/** The code element alone, or null for a room without TLS. */
export function safetyCode(info) {
  if (typeof info?.safety_code !== 'string' || !info.safety_code) return null;
  return h('span', { class: 'safety-code', text: info.safety_code });
}

/**
 * What a person joining needs to know: why their browser warned once, and the code to
 * compare with the host. `role` is 'joiner' (join page) or 'host' (invite, address dialog).
 */
export function safetyNote(info, role) {
  const code = safetyCode(info);
  if (!code) return null;
  const text = role === 'host'
    ? 'Browsers warn once that the connection is not private: this computer made its own certificate, which no authority signs. The traffic is encrypted all the same. Ask people joining to compare this safety code with the one at the top of their room.'
    : 'Your browser may have warned that this connection is not private: each LAN Chat host makes its own certificate, which no authority signs. The traffic is encrypted; to be sure it reaches the host and nobody in between, ask the host to read the safety code at the top of their room. Same digits: you are safe.';
  return h('div', { class: 'safety-note' },
    h('p', { class: 'safety-line' }, icon('lock'), h('span', { text: 'Safety code ' }), code),
    h('p', { class: 'muted', text }));
}
