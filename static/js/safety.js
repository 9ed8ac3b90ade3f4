// The room's safety code: digits made from its certificate's fingerprint (server/tls.py), for
// two people to compare aloud. Same digits on both screens: nobody is in between.

import { h } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';

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
  const text = t(role === 'host' ? 'safety.hostNote' : 'safety.joinerNote');
  return h('div', { class: 'safety-note' },
    h('p', { class: 'safety-line' }, icon('lock'), h('span', { text: `${t('safety.label')} ` }), code),
    h('p', { class: 'muted', text }));
}
