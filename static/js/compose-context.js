// The line above the composer while it answers a message ("Replying to Ada: …") or changes one
// of yours ("Editing your message"), with a button (or Escape in the text box) to stop.

import { h } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';
import { firstLine } from './message-parts.js';

/** Mount in `form` before its first row. Returns { show({mode, who, self, text}), hide(), stop() }. */
export function mountComposeContext(form, { onCancel }) {
  const label = h('span', { class: 'context-label' });
  const excerpt = h('span', { class: 'context-text' });
  const cancel = h('button', { type: 'button', class: 'icon-btn', onclick: () => onCancel() }, icon('close'));
  const bar = h('div', { class: 'compose-context', role: 'status', hidden: true },
    h('span', { class: 'context-icon' }), h('span', { class: 'context-main' }, label, excerpt), cancel);
  form.prepend(bar);
  return {
    show({ mode, who, self, text }) {
      const editing = mode === 'edit';
      bar.firstChild.replaceChildren(editing ? icon('edit') : icon('reply', 'flip-rtl'));
      label.textContent = editing ? t('context.editing')
        : self ? t('context.replyingYourself')
          : who ? t('context.replying', { name: who }) : t('context.replyingSomeone');
      excerpt.textContent = editing ? t('context.editHint') : firstLine(text) || t('msg.aFile');
      const what = t(editing ? 'context.cancelEdit' : 'context.cancelReply');
      cancel.setAttribute('aria-label', what);
      cancel.title = what;
      bar.classList.toggle('editing', editing);
      bar.hidden = false;
    },
    hide() { bar.hidden = true; },
    stop() { bar.remove(); },
  };
}
