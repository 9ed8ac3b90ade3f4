// Which conversation an event belongs to: the room, or the private one between this person and
// one other. A private message names its recipient (`to`); this page only ever receives the
// private messages it sent or that were sent to it. Pure: no DOM, no storage.

export const ROOM = 'room';

/** The conversation key of a private conversation with the person `userId`. */
export const privateKey = (userId) => `p:${userId}`;

/** The other person's id of a private conversation key, or null for the room. */
export const partnerOf = (key) => (key.startsWith('p:') ? key.slice(2) : null);

/** The conversation a message belongs to, seen by `meId`. */
export function conversationOf(msg, meId) {
  if (!msg?.to) return ROOM;
  return privateKey(msg.user?.id === meId ? msg.to.id : msg.user?.id);
}

/**
 * The private conversations in `messages` (Map id -> message, as folded), newest activity first:
 * [{key, user: {id, name}, lastId}]. `known` (Map key -> user) adds conversations opened but
 * still empty; a name comes from the newest message or the online list.
 */
export function privateConversations(messages, meId, known = new Map(), online = new Map()) {
  const convs = new Map();
  for (const [key, user] of known) convs.set(key, { key, user, lastId: 0 });
  for (const msg of messages.values()) {
    if (!msg.to) continue;
    const other = msg.user?.id === meId ? msg.to : msg.user;
    if (!other?.id) continue;
    const key = privateKey(other.id);
    convs.set(key, { key, user: { id: other.id, name: other.name }, lastId: msg.id });
  }
  for (const conv of convs.values()) {
    const now = online.get(conv.user.id);
    if (now) conv.user = { ...conv.user, name: now.name };
    conv.online = online.has(conv.user.id);
  }
  return [...convs.values()].sort((a, b) => b.lastId - a.lastId);
}
