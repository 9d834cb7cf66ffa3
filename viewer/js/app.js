// app.js — the viewer's shell: routing between its pages (the address is
// the state: /runs/{id} pasted elsewhere opens that run), the token
// prompt, toasts, and the page-wide keys.

import { setToken, token } from './api.js';
import { h, clear } from './util.js';
import { runsPage } from './runs.js';
import { runPage } from './run.js';
import { comparePage } from './compare.js';
import { auditPage } from './audit.js';

const main = document.getElementById('main');
let cleanup = null;

const routes = [
  [/^\/$|^\/runs\/?$/, () => runsPage(main)],
  [/^\/runs\/([^/]+)\/?$/, (m) => runPage(main, decodeURIComponent(m[1]), 'timeline')],
  [/^\/lineage\/([^/]+)\/?$/, (m) => runPage(main, decodeURIComponent(m[1]), 'lineage')],
  [/^\/compare\/([^/]+)(?:\/([^/]+))?\/?$/,
    (m) => comparePage(main, decodeURIComponent(m[1]), m[2] ? decodeURIComponent(m[2]) : null)],
  [/^\/audit\/?$/, () => auditPage(main)],
];

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  clear(main);
  const path = location.pathname;
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (m) {
      cleanup = page(m) || null;
      main.focus({ preventScroll: true });
      return;
    }
  }
  main.append(h('h1', {}, 'Not a page of the viewer'),
    h('p', {}, `${path} is not a page here; `, h('a', { href: '/', 'data-link': true }, 'open the runs list')));
}

// A message at the bottom of the screen; `linkTo` makes it a link.
export function toast(text, { linkTo, kind = 'ok' } = {}) {
  const box = document.getElementById('toasts');
  const body = linkTo ? h('a', { href: linkTo, 'data-link': true }, text) : h('span', {}, text);
  const t = h('div', { class: `toast toast-${kind}` }, body,
    h('button', { type: 'button', class: 'quiet', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  box.append(t);
  setTimeout(() => t.remove(), 15000);
  return t;
}

// Live-stream state in the header.
export function setLive(on) {
  const el = document.getElementById('live');
  el.textContent = on ? '● live' : '';
}

function tokenDialog() {
  const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', value: token() });
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': 'token-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'token-title' }, 'API token'),
      h('p', {}, 'When cairn serve has tokens (config.json, serve.tokens), the viewer sends this one with every request. It is kept for this tab only.'),
      h('label', { for: 'token-input' }, 'Token secret'), input,
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', value: 'save', class: 'primary' }, 'Use this token'),
        h('button', { type: 'submit', value: 'clear' }, 'No token'))));
  d.addEventListener('close', () => {
    if (d.returnValue === 'save') setToken(input.value.trim());
    else if (d.returnValue === 'clear') setToken('');
    d.remove();
    route();
  });
  document.body.append(d);
  d.showModal();
}

document.getElementById('token-button').addEventListener('click', tokenDialog);

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', route);
window.addEventListener('cairn:unauthenticated', tokenDialog);
route();
