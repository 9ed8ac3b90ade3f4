// History from the host over HTTP (GET /api/events): the page before what is shown, and
// everything after it when a welcome said there is more than it carried.

import { mergeEvents } from './util.js';
import { hostFetch } from './host-base.js';

/** A page of history from the host: its events, or null when the host did not answer. */
export async function fetchPage(query, limit = 50) {
  try {
    const res = await hostFetch(`/api/events?limit=${limit}${query}`, { cache: 'no-store' });
    if (!res.ok) return null;
    const page = await res.json();
    return Array.isArray(page.events) ? page.events : [];
  } catch {
    return null;
  }
}

/** `events` with everything after its last one the host has, page by page. */
export async function catchUp(events) {
  let out = events;
  for (let guard = 0; guard < 200; guard += 1) {
    const after = out.length ? out[out.length - 1].id : 0;
    let page;
    try {
      const res = await hostFetch(`/api/events?after=${after}&limit=500`, { cache: 'no-store' });
      if (!res.ok) return out;
      page = await res.json();
    } catch {
      return out;
    }
    out = mergeEvents(out, page.events ?? []);
    if (!page.has_more || !page.events?.length) return out;
  }
  return out;
}
