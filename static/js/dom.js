// Building DOM without markup strings: user text only ever goes through textContent or
// attributes set one by one, so nothing a person types can become an element.

/**
 * Create an element. `props`: `class`, `text`, `dataset`, `on<event>` listeners, `aria-*`,
 * `role` and other attributes, or any DOM property (set by property, never parsed as HTML).
 * Children: nodes, strings (text nodes), arrays, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key.startsWith('aria-') || key.startsWith('data-') || key === 'role' ||
               key === 'for' || !(key in el)) {
      el.setAttribute(key, value === true ? '' : String(value));
    } else el[key] = value;
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Announce something to screen readers without showing it. */
export function announce(text) {
  let region = document.getElementById('announcer');
  if (!region) {
    region = h('div', { id: 'announcer', class: 'sr-only', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  region.textContent = '';
  requestAnimationFrame(() => { region.textContent = text; });
}

/** Fire a bubbling CustomEvent: how a mounted part tells its owner what the user asked for. */
export function emit(el, type, detail = {}) {
  el.dispatchEvent(new CustomEvent(type, { detail, bubbles: true }));
}
