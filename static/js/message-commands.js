// What the person asks of messages, turned into frames: a reply or an edit prepared in the
// composer (with the line above it saying so), a delete after a confirmation, a reaction at
// once. Messages go through the outbox (they must arrive); edit, delete, react and remove are
// sent as they are asked, each with its own client_msg_id, and a refusal comes back as an
// error the room shows.

import { uuid } from './util.js';
import { t } from './i18n.js';
import { mountComposeContext } from './compose-context.js';
import { openDeleteDialog } from './moderation.js';
import { firstLine } from './message-parts.js';

/**
 * `composer` and its `form`; `send(frame)` (false when offline), `enqueue(item)` (the outbox),
 * `message(id)` (a message in its current state), `target()` ({to} of the open conversation),
 * `me()`, `ownMessages()` (the open conversation's messages of mine, oldest first), `onRefused(text)`,
 * `limits()` (the room's; an edit may have its own `max_edit_bytes`).
 * Returns { reply(id), edit(id), editLast(), cancel(), submit(text), remove(id), react(target, emoji, on),
 * moderate(userId, minutes), clear(), stop() }.
 */
export function mountMessageCommands(form, composer, { send, enqueue, message, target, me, ownMessages, onRefused, limits }) {
  let context = null;
  const bar = mountComposeContext(form, { onCancel: () => cancel() });

  function act(frame) {
    if (!send({ ...frame, client_msg_id: uuid() })) onRefused(t('name.notConnected'));
  }

  function clear() {
    if (context?.mode === 'edit') composer.setLimit(limits().max_message_bytes);
    context = null;
    bar.hide();
  }

  function cancel() {
    if (context?.mode === 'edit') composer.setText(context.draft);
    clear();
    composer.focus();
  }

  function reply(id) {
    const msg = message(id);
    if (!msg || msg.deleted) return;
    if (context?.mode === 'edit') {
      composer.setText(context.draft);
      clear();
    }
    context = { mode: 'reply', id, quote: { id, user: msg.user, text: firstLine(msg.text) || msg.file?.name || '' } };
    bar.show({ mode: 'reply', who: msg.user?.name, self: msg.user?.id === me()?.id, text: context.quote.text });
    composer.focus();
  }

  function edit(id) {
    const msg = message(id);
    if (!msg || msg.deleted || msg.user?.id !== me()?.id) return;
    const draft = context?.mode === 'edit' ? context.draft : composer.textarea.value;
    context = { mode: 'edit', id, draft, was: msg.text ?? '' };
    composer.setLimit(limits().max_edit_bytes ?? limits().max_message_bytes);
    bar.show({ mode: 'edit' });
    composer.setText(msg.text ?? '');
  }

  return {
    reply,
    edit,
    editLast() {
      const mine = ownMessages().filter((m) => !m.deleted && m.text);
      if (mine.length) edit(mine[mine.length - 1].id);
    },
    cancel,
    /** The composer's text was sent: a new message, an answer, or the edit being made. */
    submit(text) {
      if (context?.mode === 'edit') {
        const { id, draft, was } = context;
        clear();
        if (text !== was) act({ type: 'edit', target: id, text });
        composer.setText(draft);
        return;
      }
      const item = { text, ...target() };
      if (context?.mode === 'reply') Object.assign(item, { reply_to: context.id, reply: context.quote });
      clear();
      enqueue(item);
    },
    remove(id) {
      const msg = message(id);
      if (!msg || msg.deleted) return;
      const own = msg.user?.id === me()?.id;
      openDeleteDialog({ own, excerpt: firstLine(msg.text) || msg.file?.name || '' }, () => {
        if (context?.id === id) cancel();
        act({ type: 'delete', target: id });
      });
    },
    react(id, emoji, on) { act({ type: 'react', target: id, emoji, on }); },
    moderate(userId, minutes) { act({ type: 'remove', user: userId, minutes }); },
    clear,
    stop() { bar.stop(); },
  };
}
