// The "Maya is typing…" line: each typing ping shows its sender for a few seconds; a message
// from them, or the time running out, takes them off again.

import { formatList, t } from './i18n.js';

const TYPING_SHOWN_MS = 4500;

/** "Maya is typing…", two names, or "Several people…" past that: one sentence per case. */
export function typingLabel(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return t('typing.one', { name: names[0] });
  if (names.length === 2) return t('typing.two', { names: formatList(names) });
  return t('typing.many');
}

/** Owns the line `el`. Returns { typed(user), done(userId), stop() }. */
export function mountTyping(el) {
  const typers = new Map();

  function render() {
    const now = Date.now();
    for (const [id, t] of typers) if (t.until <= now) typers.delete(id);
    const label = typingLabel([...typers.values()].map((t) => t.name));
    if (el.textContent !== label) el.textContent = label;
  }

  const tick = setInterval(render, 1000);
  return {
    typed(user) {
      typers.set(user.id, { name: user.name, until: Date.now() + TYPING_SHOWN_MS });
      render();
    },
    done(userId) {
      typers.delete(userId);
      render();
    },
    stop() { clearInterval(tick); },
  };
}
