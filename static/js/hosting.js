// The lobby's "You are hosting" card: a room this computer still hosts, with Open and, in the
// desktop app, Stop hosting. Hidden while nothing is hosted here.

import { h } from './dom.js';
import { icon } from './icons.js';
import * as desktop from './desktop.js';
import { t } from './i18n.js';

function lanAddress(info) {
  const urls = Array.isArray(info?.urls) ? info.urls : [];
  const url = urls.find((u) => !/\/\/(127\.|localhost|\[::1\])/.test(u)) ?? '';
  return url.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

/** Mount into `section` (a card); `info` is this server's /api/room answer (or what this page
 * saw last, until `setInfo` brings the answer). Returns { stop, setInfo }. */
export function mountHostingCard(section, info) {
  let stopped = false;
  const title = h('h2', { id: 'hosting-title' });
  const where = h('p', { class: 'muted' });
  const problem = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const open = h('a', { class: 'btn btn-primary', href: '/' }, icon('arrow', 'flip-rtl'), h('span', { text: t('hosting.open') }));
  const stopButton = h('button', { type: 'button', class: 'btn', hidden: true }, icon('close'), h('span', { text: t('hosting.stop') }));
  section.hidden = true;
  section.setAttribute('aria-labelledby', 'hosting-title');
  section.append(title, where, h('div', { class: 'hosting-actions' }, open, stopButton), problem);

  let mine = false;
  function show(room) {
    section.hidden = false;
    title.textContent = mine ? t('hosting.mine', { room }) : t('hosting.here', { room });
    const address = lanAddress(info);
    const joinAt = address ? t('hosting.joinAt', { address }) : '';
    where.textContent = mine ? [joinAt, t('hosting.anotherStops')].filter(Boolean).join(' ') : joinAt;
  }

  async function onStop() {
    stopButton.disabled = true;
    stopButton.lastChild.textContent = t('hosting.stopping');
    const answer = await desktop.stopHosting();
    if (stopped) return;
    if (answer?.error || !answer) {
      problem.textContent = answer?.error ? t('hosting.stopFailed', { reason: answer.error }) : t('hosting.noAnswer');
      problem.hidden = false;
      stopButton.disabled = false;
      stopButton.lastChild.textContent = t('hosting.stop');
      return;
    }
    window.location.reload(); // the lobby's server is back on loopback, at the same address
  }
  stopButton.addEventListener('click', onStop);

  function showServed() {
    if (mine) return;
    if (info?.hosting === true && typeof info.room === 'string') show(info.room);
    else section.hidden = true;
  }
  showServed();
  desktop.hostingState().then((state) => {
    if (stopped || !state) return;
    if (state.hosting && typeof state.room === 'string') {
      mine = true;
      show(state.room);
      stopButton.hidden = false;
    }
  });
  return {
    stop() {
      stopped = true;
      stopButton.removeEventListener('click', onStop);
    },
    setInfo(fresh) {
      info = fresh;
      showServed();
    },
  };
}
