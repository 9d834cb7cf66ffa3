// runs.js — the runs list: newest first, filters, search by workflow id
// or run id, paging by cursor, and live updates from GET /v1/runs?follow=1.

import { get, enc, stream } from './api.js';
import { h, clear, runLink, link, statusBadge, markBadge, fmtTime, errorBox } from './util.js';
import { setLive } from './app.js';

const LIMIT = 50;


function badges(r) {
  return [
    r.status === 'failed' ? markBadge('failed', 'the run failed') : null,
    r.stale ? markBadge('stale', 'a step upstream was rerun after a step ran') : null,
    r.dry_run ? markBadge('dry-run', 'a mutating step was recorded, not performed') : null,
  ];
}

function row(r) {
  return h('tr', { 'data-run': r.run_id, class: `run-row st-row-${r.status}` },
    h('td', {}, runLink(r.run_id)),
    h('td', {}, r.workflow || h('span', { class: 'muted' }, '—')),
    h('td', {}, link(`/lineage/${enc(r.run_id)}`, r.workflow_id, { title: 'lineage of this workflow id' })),
    h('td', {}, statusBadge(r.status), ' ', badges(r)),
    h('td', {}, r.origin === 'none' ? 'start' : r.origin,
      r.parent_run_id ? [' of ', runLink(r.parent_run_id)] : null),
    h('td', {}, h('time', { datetime: r.started }, fmtTime(r.started))),
    h('td', { class: 'num' }, r.events));
}

export function runsPage(main) {
  const params = new URLSearchParams(location.search);
  const ctl = new AbortController();
  const sel = (name, label, options) => h('label', {}, label,
    h('select', { name },
      options.map(([v, t]) => h('option', { value: v, selected: params.get(name) === v }, t))));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter runs' },
    sel('status', 'Status', [['', 'any'], ['running', 'running'], ['completed', 'completed'], ['failed', 'failed'], ['cancelled', 'cancelled'], ['terminated', 'terminated']]),
    h('label', {}, 'Workflow', h('input', { name: 'workflow', placeholder: 'name', value: params.get('workflow') || '' })),
    sel('origin', 'Origin', [['', 'any'], ['start', 'start'], ['reset', 'reset'], ['rerun', 'rerun'], ['replay', 'replay']]),
    sel('since', 'Started within', [['', 'any time'], ['15m', '15 minutes'], ['1h', 'an hour'], ['24h', 'a day'], ['7d', 'a week']]),
    h('label', {}, 'Search', h('input', { name: 'q', type: 'search', placeholder: 'workflow id or run id', value: params.get('q') || '' })),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  const body = h('tbody', {});
  const table = h('table', { class: 'runs' },
    h('caption', { class: 'sr-only' }, 'Runs, newest first'),
    h('thead', {}, h('tr', {}, ['Run', 'Workflow', 'Workflow id', 'Status', 'Origin', 'Started', 'Events'].map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const msg = h('div', {});
  const pager = h('div', { class: 'pager' });
  main.append(h('h1', {}, 'Runs'), form, msg, table, pager);

  const cursors = [];
  let cursor = params.get('cursor') || '';
  const shown = new Map();
  let newest = '';

  const query = () => {
    const q = new URLSearchParams();
    for (const k of ['status', 'workflow', 'origin', 'since']) if (params.get(k)) q.set(k, params.get(k));
    return q;
  };
  const matches = (r) =>
    (!params.get('status') || r.status === params.get('status')) &&
    (!params.get('workflow') || r.workflow === params.get('workflow')) &&
    (!params.get('origin') || (r.origin === 'none' ? 'start' : r.origin) === params.get('origin')) &&
    (!params.get('q') || r.workflow_id === params.get('q') || r.run_id === params.get('q'));

  async function load() {
    clear(msg);
    const q = query();
    q.set('limit', LIMIT);
    if (cursor) q.set('cursor', cursor);
    const search = (params.get('q') || '').trim();
    let doc;
    try {
      if (search) {
        // A run id names one run; anything else is a workflow id.
        const byRun = await get(`/v1/runs?${q}&workflow_id=${enc(search)}`);
        doc = byRun;
        if (!byRun.runs.length) {
          try {
            const run = await get(`/v1/runs/${enc(search)}`);
            if (run.run_id === search) {
              const all = await get(`/v1/runs?workflow_id=${enc(run.workflow_id)}&limit=1000`);
              doc = { runs: all.runs.filter((r) => r.run_id === search), next_cursor: null };
            }
          } catch (e) { if (e.status !== 404) throw e; }
        }
      } else {
        doc = await get(`/v1/runs?${q}`);
      }
    } catch (e) {
      msg.append(errorBox(e, 'Listing runs'));
      return;
    }
    clear(body);
    shown.clear();
    newest = doc.runs.length ? doc.runs[0].started : new Date(Date.now() - 1000).toISOString();
    for (const r of doc.runs) { const tr = row(r); shown.set(r.run_id, tr); body.append(tr); }
    if (!doc.runs.length)
      body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No run matches. Start one with cairn run or POST /v1/runs.')));
    clear(pager);
    if (cursors.length)
      pager.append(h('button', { type: 'button', onclick: () => { cursor = cursors.pop(); load(); } }, '← Newer'));
    if (doc.next_cursor)
      pager.append(h('button', { type: 'button', onclick: () => { cursors.push(cursor); cursor = doc.next_cursor; load(); } }, 'Older →'));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
    history.replaceState(null, '', `/${q.toString() ? '?' + q : ''}`);
    for (const k of ['status', 'workflow', 'origin', 'since', 'q']) {
      if (q.get(k)) params.set(k, q.get(k)); else params.delete(k);
    }
    cursor = '';
    cursors.length = 0;
    load();
  });

  load();
  // Live: a changed run is redrawn in place; a new one that matches the
  // filters appears on top of the first page.
  stream('/v1/runs?follow=1', (ev) => {
    const r = ev.data;
    if (!r || !r.run_id) return;
    const old = shown.get(r.run_id);
    if (old) {
      const tr = row(r);
      old.replaceWith(tr);
      shown.set(r.run_id, tr);
    } else if (!cursor && matches(r) && (!newest || r.started > newest)) {
      newest = r.started;
      const empty = body.querySelector('td[colspan]');
      if (empty) empty.parentElement.remove();
      const tr = row(r);
      shown.set(r.run_id, tr);
      body.prepend(tr);
    }
  }, { signal: ctl.signal, onState: setLive });
  return () => { ctl.abort(); setLive(false); };
}
