// Reading back through a long history: pages before the first one load while the reader is
// still a screen away from the top, what the reader was looking at stays put when they arrive,
// and a pill offers "Jump to latest" whenever the view is far from the newest message (or says
// "New messages" when something arrived meanwhile).

import { t } from './i18n.js';

const NEAR_BOTTOM_PX = 64;
const PREFETCH_SCREENS = 1.5; // ask for the page before when this close to the top
const FAR_SCREENS = 1; // "Jump to latest" once the newest message is more than a screen away

/**
 * Mount on the scrolling element `scroller` holding `list` (items carry `data-key`), with the
 * `pill` button. `onNearTop()` asks for older history; `onJump()` goes to the newest message.
 * Returns the controls the list uses, and stop().
 */
export function mountHistoryScroll(scroller, list, pill, { onNearTop, onJump }) {
  const label = pill.querySelector('span') ?? pill;
  let fresh = false;

  const fromBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;

  function update() {
    const gap = fromBottom();
    if (gap < NEAR_BOTTOM_PX) fresh = false;
    const far = gap > scroller.clientHeight * FAR_SCREENS;
    pill.hidden = !fresh && !far;
    const text = fresh ? t('history.newMessages') : t('history.jumpToLatest');
    if (label.textContent !== text) label.textContent = text;
  }

  /** Ask for older history when near the top; also after a page arrived and the view is still near it. */
  function check() {
    if (scroller.clientHeight && scroller.scrollTop < scroller.clientHeight * PREFETCH_SCREENS) onNearTop();
  }

  const onScroll = () => { update(); check(); };
  const onClick = () => onJump();
  scroller.addEventListener('scroll', onScroll, { passive: true });
  pill.addEventListener('click', onClick);

  return {
    update,
    check,
    newMessages() { fresh = true; update(); },
    /** The first item in view and how far below the top it is: the reader's place. */
    place() {
      const top = scroller.getBoundingClientRect().top;
      for (const node of list.children) {
        if (!node.dataset.key || node.matches('.older, .start')) continue;
        const r = node.getBoundingClientRect();
        if (r.bottom > top) return { key: node.dataset.key, offset: r.top - top };
      }
      return null;
    },
    /** Scroll so the item of `place` is where it was; false when it is gone. */
    keep(place) {
      const node = place && list.querySelector(`[data-key="${CSS.escape(place.key)}"]`);
      if (!node) return false;
      const top = scroller.getBoundingClientRect().top;
      scroller.scrollTop += node.getBoundingClientRect().top - top - place.offset;
      return true;
    },
    stop() {
      scroller.removeEventListener('scroll', onScroll);
      pill.removeEventListener('click', onClick);
    },
  };
}
