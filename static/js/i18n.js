// The UI's languages: every sentence a person reads comes from static/i18n/<code>.json through
// t(key, params). A sentence is one string with named placeholders ({name}), never glued from
// pieces, because word order differs between languages. Counts pick a plural form through
// Intl.PluralRules; numbers, sizes, times and lists are formatted by Intl in the chosen language.
//
// The language follows the browser (navigator.languages; the desktop window's engine takes it
// from the system's locale) until the person picks another, which localStorage remembers.

import { h } from './dom.js';

/** The languages there are files for; `dir` is the writing direction. */
export const LANGUAGES = Object.freeze([
  { code: 'en', name: 'English', dir: 'ltr' },
  { code: 'ar', name: 'العربية', dir: 'rtl' },
  { code: 'de', name: 'Deutsch', dir: 'ltr' },
  { code: 'es', name: 'Español', dir: 'ltr' },
  { code: 'fr', name: 'Français', dir: 'ltr' },
  { code: 'hi', name: 'हिन्दी', dir: 'ltr' },
  { code: 'ja', name: '日本語', dir: 'ltr' },
  { code: 'ko', name: '한국어', dir: 'ltr' },
  { code: 'pt', name: 'Português', dir: 'ltr' },
  { code: 'ru', name: 'Русский', dir: 'ltr' },
  { code: 'zh-CN', name: '简体中文', dir: 'ltr' },
]);

const STORAGE_KEY = 'lanchat.language';
const FALLBACK = 'en';

let current = FALLBACK;
let strings = {};
let english = {};
let plurals = new Intl.PluralRules(FALLBACK);
let numbers = new Intl.NumberFormat(FALLBACK);

/** The best of LANGUAGES for a list of wanted tags (most wanted first); English otherwise. */
export function matchLanguage(wanted) {
  const codes = LANGUAGES.map((l) => l.code);
  for (const tag of wanted ?? []) {
    if (typeof tag !== 'string' || !tag) continue;
    const lower = tag.toLowerCase();
    const exact = codes.find((c) => c.toLowerCase() === lower);
    if (exact) return exact;
    const base = lower.split('-')[0];
    // Simplified Chinese is what there is; a zh-TW reader still reads it better than English.
    const same = codes.find((c) => c.toLowerCase().split('-')[0] === base);
    if (same) return same;
  }
  return FALLBACK;
}

function savedChoice() {
  try { return localStorage.getItem(STORAGE_KEY); } catch { return null; }
}

/** The language to use now: the person's pick, else the browser's (or system's) languages. */
export function chosenLanguage() {
  const saved = savedChoice();
  if (saved && LANGUAGES.some((l) => l.code === saved)) return saved;
  return matchLanguage(navigator.languages?.length ? navigator.languages : [navigator.language]);
}

const LOAD_WITHIN_MS = 5000; // a host that vanished must not hold the page's start forever

async function load(code) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), LOAD_WITHIN_MS);
  try {
    const res = await fetch(`/i18n/${code}.json`, { signal: ctl.signal });
    if (!res.ok) throw new Error(String(res.status));
    const data = await res.json();
    return data && typeof data === 'object' ? data : {};
  } finally {
    clearTimeout(timer);
  }
}

/** Load the chosen language (and English for anything it lacks); set <html lang dir>. */
export async function initI18n(code = chosenLanguage()) {
  try { english = await load(FALLBACK); } catch { english = {}; }
  current = code;
  try {
    strings = code === FALLBACK ? english : await load(code);
  } catch {
    current = FALLBACK; // offline without that file: English rather than keys
    strings = english;
  }
  plurals = new Intl.PluralRules(current);
  numbers = new Intl.NumberFormat(current);
  document.documentElement.lang = current;
  document.documentElement.dir = direction();
  translateStatic(document);
}

export function language() { return current; }

export function direction(code = current) {
  return LANGUAGES.find((l) => l.code === code)?.dir ?? 'ltr';
}

function pick(entry, params) {
  if (typeof entry === 'string') return entry;
  if (!entry || typeof entry !== 'object') return undefined;
  const count = Number(params.count);
  return entry[plurals.select(Number.isFinite(count) ? count : 0)] ?? entry.other;
}

/**
 * The sentence for `key` in the current language, its {placeholders} filled from `params`
 * (numbers are formatted for the language). A key with plural forms picks one by `params.count`.
 */
export function t(key, params = {}) {
  let text = pick(strings[key], params) ?? pick(english[key], params);
  if (text === undefined) {
    console.warn(`i18n: no text for ${key}`);
    text = key;
  }
  return text.replace(/\{([a-zA-Z][a-zA-Z0-9_]*)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const value = params[name];
    return typeof value === 'number' ? numbers.format(value) : String(value);
  });
}

/** A number written the current language's way. */
export function formatNumber(n) { return numbers.format(n); }

const SIZE_UNITS = ['kilobyte', 'megabyte', 'gigabyte', 'terabyte'];

/** A file size in the current language ("1.5 MB", "1,5 Mo", "1.5 МБ"); 1 KB = 1024 bytes. */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  let unit = 'byte';
  let value = bytes;
  for (const next of SIZE_UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  const digits = unit === 'byte' || value >= 10 ? 0 : 1;
  return new Intl.NumberFormat(current, {
    style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: digits, minimumFractionDigits: digits,
  }).format(value);
}

/** The time of day ("08:50", "8:50 PM", "٨:٥٠ م") in the current language. */
export function formatTime(date) {
  return new Intl.DateTimeFormat(current, { hour: '2-digit', minute: '2-digit' }).format(date);
}

/** "Today", "Yesterday" or the date, in the current language. */
export function formatDay(date, now = new Date()) {
  const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((midnight(date) - midnight(now)) / 86400000);
  if (days === 0 || days === -1) {
    const word = new Intl.RelativeTimeFormat(current, { numeric: 'auto' }).format(days, 'day');
    return word.charAt(0).toLocaleUpperCase(current) + word.slice(1);
  }
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (date.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return new Intl.DateTimeFormat(current, opts).format(date);
}

/** "in 5 seconds" and the like, for countdowns. */
export function formatIn(seconds) {
  return new Intl.RelativeTimeFormat(current, { numeric: 'auto' }).format(Math.max(0, Math.round(seconds)), 'second');
}

/** Names joined the way the language joins them ("Ada, Bo and Cy"; "Ada、Bo、Cy"). */
export function formatList(items) {
  return new Intl.ListFormat(current, { style: 'long', type: 'conjunction' }).format(items);
}

/** Fill every [data-i18n] element under `root` with its key's text (index.html's own words). */
export function translateStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

/** Remember `code` as this person's language and show the page in it. */
export function setLanguage(code) {
  try { localStorage.setItem(STORAGE_KEY, code); } catch { /* storage off: this page only */ }
  window.location.reload();
}

/** A labelled <select> of every language, each named in its own language; picking one switches. */
export function languagePicker() {
  const select = h('select', { id: 'language-picker', class: 'language-select', 'aria-label': t('language.label') },
    LANGUAGES.map((l) => h('option', { value: l.code, lang: l.code, text: l.name, selected: l.code === current })));
  select.addEventListener('change', () => setLanguage(select.value));
  return h('div', { class: 'language-picker' }, select);
}
