// util.js — small DOM and formatting helpers shared by the pages.

import { ApiError } from './api.js';

// h('div', {class: 'x', onclick: f}, child, 'text', [children]) builds
// an element; attributes named on* are listeners, `null` ones are left out.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

// Appends children as h() takes them (arrays flattened, null left out).
export function put(el, ...children) { append(el, children); return el; }

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export const link = (href, text, attrs) =>
  h('a', Object.assign({ href, 'data-link': true }, attrs || {}), text);

export const runLink = (id, text) => link(`/runs/${id}`, text || short(id), { title: id });

export const short = (id) => (id && id.length > 20 ? id.slice(0, 8) + '…' + id.slice(-8) : id || '');

// A status word with its colour; the word itself carries the meaning.
export function statusBadge(status) {
  return h('span', { class: `badge st-${status}` }, status);
}

export function markBadge(kind, title) {
  return h('span', { class: `badge mark-${kind}`, title }, kind);
}

export function fmtTime(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = typeof t === 'number' ? new Date(t / 1000) : new Date(t);
  if (isNaN(d)) return String(t);
  return d.toISOString().replace('T', ' ').replace('Z', ' UTC');
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${((ms % 60000) / 1000).toFixed(0)} s`;
}

// A JSON value, folded when it is big: a <details> whose summary is a
// one-line preview, opened to the pretty-printed value.
export function jsonView(value, { open = false, label } = {}) {
  if (value === undefined) return h('span', { class: 'muted' }, '—');
  const text = JSON.stringify(value, null, 2);
  const one = JSON.stringify(value);
  if (one === undefined) return h('span', { class: 'muted' }, '—');
  if (one.length <= 80) return h('code', { class: 'json inline' }, one);
  return h('details', { class: 'json', open },
    h('summary', { 'aria-label': label ? `${label}: show the whole value` : null },
      h('code', {}, one.slice(0, 100) + (one.length > 100 ? '…' : ''))),
    h('pre', {}, text));
}

export function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// A list of `count` rows of fixed height that only builds the rows in
// view: runs with 10,000 steps and histories of 100,000 events scroll
// without building 100,000 elements. render(i) returns row i's element.
export class VirtualList {
  constructor(container, { rowHeight, render, label, onNearEnd }) {
    this.box = container;
    this.rowHeight = rowHeight;
    this.render = render;
    this.onNearEnd = onNearEnd;
    this.count = 0;
    this.box.classList.add('vlist');
    this.box.setAttribute('role', 'list');
    if (label) this.box.setAttribute('aria-label', label);
    this.box.tabIndex = 0;
    this.inner = h('div', { class: 'vlist-inner' });
    this.box.append(this.inner);
    this.box.addEventListener('scroll', () => this.draw());
    this.drawn = new Map();
  }
  setCount(n) { this.count = n; this.inner.style.height = `${n * this.rowHeight}px`; this.refresh(); }
  refresh() { for (const el of this.drawn.values()) el.remove(); this.drawn.clear(); this.draw(); }
  scrollTo(i) { this.box.scrollTop = Math.max(0, i * this.rowHeight - this.box.clientHeight / 2); this.draw(); }
  draw() {
    const top = this.box.scrollTop;
    const height = this.box.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - 10);
    const last = Math.min(this.count, Math.ceil((top + height) / this.rowHeight) + 10);
    for (const [i, el] of this.drawn) {
      if (i < first || i >= last) { el.remove(); this.drawn.delete(i); }
    }
    for (let i = first; i < last; i++) {
      if (this.drawn.has(i)) continue;
      const el = this.render(i);
      el.style.position = 'absolute';
      el.style.top = `${i * this.rowHeight}px`;
      el.style.height = `${this.rowHeight}px`;
      el.setAttribute('role', 'listitem');
      this.inner.append(el);
      this.drawn.set(i, el);
    }
    if (this.onNearEnd && last >= this.count - 20) this.onNearEnd();
  }
}

// An API error as the page shows it: the API's status, code, message and
// hint; a 401 offers the token dialog.
export function errorBox(e, what) {
  const box = h('div', { class: 'error', role: 'alert' },
    h('strong', {}, what ? `${what}: ` : ''),
    e instanceof ApiError ? e.describe() : String(e.message || e));
  if (e.hint) box.append(h('div', { class: 'hint' }, e.hint));
  if (e.status === 401)
    box.append(h('button', { type: 'button', onclick: () => window.dispatchEvent(new Event('cairn:unauthenticated')) }, 'Enter a token'));
  return box;
}

// An asset as one line: "reports/day [day] sha256:ab12…" with a stale mark
// and why (docs/assets.md, "Staleness").
export const assetName = (a) => a.partition ? `${a.key} [${a.partition}]` : a.key;
export function staleWhy(a) {
  const st = a.staleness || a;
  return (st.why || []).map((w) => w === 'superseded' && st.newer ? `superseded by run ${short(st.newer.run_id)}`
    : w === 'expired' ? 'older than its max_age'
      : w === 'upstream_changed' && st.upstream ? `upstream ${st.upstream.key} changed` : w).join('; ');
}
export function assetLine(a) {
  return h('li', { class: a.stale ? 'asset stale' : 'asset', 'data-asset': assetName(a) },
    h('code', {}, assetName(a)), ' ', h('code', { class: 'muted', title: a.hash }, `sha256:${a.hash.slice(0, 12)}`),
    a.stale ? [' ', markBadge('stale', staleWhy(a)), ' ', h('span', { class: 'muted' }, staleWhy(a))] : '');
}
