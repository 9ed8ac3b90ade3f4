// Join, leave and rename lines. A burst of comings and goings (a flaky phone, someone
// reloading) becomes one quiet line per burst instead of a wall of "joined / left".

import { formatList, t } from './i18n.js';

/** Presence events closer together than this belong to one burst. */
export const BURST_GAP_MS = 10 * 60 * 1000;

const MAX_NAMES = 3;

/** Up to MAX_NAMES names joined the language's way; past that, the first ones and "N others". */
function nameList(names) {
  if (names.length <= MAX_NAMES) return formatList(names);
  const others = names.length - (MAX_NAMES - 1);
  return formatList([...names.slice(0, MAX_NAMES - 1), t('presence.others', { count: others })]);
}

/** What a run of join/leave events amounts to, per person, in one line. */
export function burstText(run, meId) {
  const people = new Map();
  for (const ev of run) {
    const id = ev.user?.id ?? '';
    const mine = meId !== undefined && id === meId;
    const person = people.get(id) ?? { first: ev.type, mine };
    person.last = ev.type;
    person.name = mine ? t('people.you') : ev.user?.name ?? t('people.someone');
    people.set(id, person);
  }
  const verbs = new Map([['presence.joined', []], ['presence.joinedLeft', []], ['presence.left', []], ['presence.leftBack', []]]);
  for (const p of people.values()) {
    const verb = p.first === 'join'
      ? (p.last === 'join' ? 'presence.joined' : 'presence.joinedLeft')
      : (p.last === 'leave' ? 'presence.left' : 'presence.leftBack');
    // "You" leads its list, so a sentence never reads "Ada and You".
    if (p.mine) verbs.get(verb).unshift(p.name);
    else verbs.get(verb).push(p.name);
  }
  return [...verbs].filter(([, names]) => names.length)
    .map(([verb, names]) => t(verb, { names: nameList(names), count: names.length })).join(' · ');
}

export function renameText(ev, meId) {
  const name = ev.user?.name ?? t('people.someone');
  if (meId !== undefined && ev.user?.id === meId) return t('presence.youRenamed', { name });
  return t('presence.renamed', { old: ev.old_name || t('people.someone'), name });
}

export function isPresence(ev) { return ev.type === 'join' || ev.type === 'leave'; }

/**
 * Folds presence events into runs as the room walks its history: `fits(ev)` says whether a
 * presence event continues the current run, `add(ev)` extends it, and `flush()` returns the
 * finished run's list item (or null).
 */
export function presenceFolder(meId) {
  let run = [];
  return {
    fits(ev) {
      const last = run[run.length - 1];
      return !last || new Date(ev.ts) - new Date(last.ts) <= BURST_GAP_MS;
    },
    add(ev) { run.push(ev); },
    flush() {
      if (!run.length) return null;
      const item = {
        kind: 'notice', key: `p-${run[0].id}`, ts: run[run.length - 1].ts,
        text: burstText(run, meId), count: run.length,
      };
      run = [];
      return item;
    },
  };
}
