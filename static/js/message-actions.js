// What a person can do to a message: one small toolbar (react, reply, and for your own or as a
// moderator edit and delete) that moves to the message under the pointer or with the focus, a
// long press (the context menu) on touch, and a keyboard route: arrow keys walk the messages
// of the list, R replies, E edits, Delete deletes, P writes to the author privately, Enter or
// the menu key enters the toolbar, Escape goes back to the composer. Choices go up as
// 'chat:reply', 'chat:edit', 'chat:delete', 'chat:write' and 'chat:react' events.

import { h, emit } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';

export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

const MSG = '.msg[data-id]';

/** Mount on the list's `scroller` holding `list`. `onLeave()` moves focus out (the composer). */
export function mountMessageActions(scroller, list, { onLeave }) {
  const ctl = new AbortController();
  const { signal } = ctl;
  const btn = (label, name, action, extra = {}) => h('button', {
    type: 'button', class: 'icon-btn', title: label, 'aria-label': label, dataset: { act: action }, ...extra,
  }, icon(name));
  const react = btn(t('actions.react'), 'smile', 'picker', { 'aria-expanded': 'false' });
  const reply = btn(t('actions.reply'), 'reply', 'reply');
  reply.firstChild.classList.add('flip-rtl'); // the arrow points back along the reading direction
  const edit = btn(t('actions.edit'), 'edit', 'edit');
  const del = btn(t('actions.delete'), 'trash', 'delete');
  const write = btn(t('actions.write'), 'person', 'write');
  const picker = h('div', { class: 'emoji-picker', role: 'group', 'aria-label': t('msg.reactions'), hidden: true },
    QUICK_EMOJI.map((e) => h('button', { type: 'button', class: 'emoji-btn', 'aria-label': t('actions.reactWith', { emoji: e }), title: e, dataset: { emoji: e }, text: e })));
  const bar = h('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': t('actions.bar') }, react, reply, write, edit, del, picker);
  let current = null;

  function attach(li) {
    if (!li || !li.isConnected) return;
    if (current !== li) {
      closePicker();
      current?.classList.remove('pressed');
    }
    current = li;
    if (li.dataset.deleted) { bar.remove(); return; } // nothing left to act on
    edit.hidden = !li.dataset.canEdit;
    del.hidden = !li.dataset.canDelete;
    write.hidden = !li.dataset.canWrite;
    if (bar.parentNode !== li) li.append(bar);
  }

  function closePicker() {
    picker.hidden = true;
    react.setAttribute('aria-expanded', 'false');
  }

  function run(action, li = current) {
    const id = Number(li?.dataset.id);
    if (!Number.isInteger(id) || li.dataset.deleted) return;
    if (action === 'edit' && !li.dataset.canEdit) return;
    if (action === 'delete' && !li.dataset.canDelete) return;
    if (action === 'write' && !li.dataset.canWrite) return;
    if (action === 'picker') {
      attach(li);
      picker.hidden = false;
      react.setAttribute('aria-expanded', 'true');
      picker.querySelector('button').focus();
      return;
    }
    emit(list, `chat:${action}`, { id });
  }

  const messages = () => [...list.querySelectorAll(MSG)];
  function step(from, delta) {
    const all = messages();
    if (!all.length) return;
    const at = all.indexOf(from);
    const next = at < 0 ? all[all.length - 1] : all[Math.max(0, Math.min(all.length - 1, at + delta))];
    next.focus();
  }

  scroller.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const li = event.target.closest?.(MSG);
    const onItem = li && event.target === li;
    const onList = event.target === scroller;
    if ((onItem || onList) && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      event.preventDefault();
      step(onItem ? li : null, event.key === 'ArrowUp' ? -1 : 1);
      return;
    }
    if (event.key === 'Escape' && (li || onList)) {
      if (!picker.hidden) { closePicker(); react.focus(); } else onLeave();
      event.preventDefault();
      return;
    }
    if (!onItem) return;
    const keys = { r: 'reply', R: 'reply', e: 'edit', E: 'edit', p: 'write', P: 'write', Delete: 'delete', Backspace: 'delete', '+': 'picker' };
    if (keys[event.key]) {
      event.preventDefault();
      run(keys[event.key], li);
    } else if (event.key === 'Enter' || event.key === 'ContextMenu' || (event.key === 'F10' && event.shiftKey)) {
      event.preventDefault();
      attach(li);
      react.focus();
    }
  }, { signal });

  bar.addEventListener('click', (event) => {
    event.stopPropagation();
    const b = event.target.closest('button');
    if (!b) return;
    if (b.dataset.emoji) {
      const id = Number(current?.dataset.id);
      const mine = current?.querySelector(`.reaction.mine[data-emoji="${CSS.escape(b.dataset.emoji)}"]`);
      closePicker();
      current?.focus();
      emit(list, 'chat:react', { target: String(id), emoji: b.dataset.emoji, on: mine ? '' : '1' });
    } else if (b.dataset.act) {
      run(b.dataset.act);
    }
  }, { signal });
  list.addEventListener('pointerover', (event) => attach(event.target.closest?.(MSG)), { signal });
  list.addEventListener('focusin', (event) => attach(event.target.closest?.(MSG)), { signal });
  // A long press on a touch screen opens the context menu: show the toolbar there instead.
  list.addEventListener('contextmenu', (event) => {
    const li = event.target.closest?.(MSG);
    if (!li || event.target.closest('a, img')) return;
    event.preventDefault();
    attach(li);
    li.classList.add('pressed');
  }, { signal });

  return {
    /** After a redraw: keep the toolbar on its message (which may be a new node now). */
    refresh() {
      if (current && !current.isConnected) {
        const again = list.querySelector(`.msg[data-id="${current.dataset.id}"]`);
        current = null;
        if (!again) return;
        attach(again);
        // The focused message was redrawn (a reaction, an edit): keep the focus on it.
        if (document.activeElement === document.body) again.focus({ preventScroll: true });
      }
    },
    stop() { ctl.abort(); bar.remove(); },
  };
}
