// audit.js — the control actions (GET /v1/audit): who did what to which
// run, when, and why; filtered by workflow id and action.

import { get } from './api.js';
import { h, clear, runLink, fmtTime, errorBox } from './util.js';

export function auditPage(main) {
  const params = new URLSearchParams(location.search);
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter audit records' },
    h('label', {}, 'Workflow id', h('input', { name: 'workflow', value: params.get('workflow') || '' })),
    h('label', {}, 'Action', h('select', { name: 'action' },
      ['', 'start', 'reset', 'rerun', 'replay', 'signal', 'cancel', 'terminate', 'workflow.pause', 'workflow.unpause', 'workflow.delete']
        .map((a) => h('option', { value: a, selected: params.get('action') === a }, a || 'any')))),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  const box = h('div', {});
  main.append(h('h1', {}, 'Audit'), form, box);
  const load = async () => {
    clear(box);
    const q = new URLSearchParams();
    for (const k of ['workflow', 'action']) if (params.get(k)) q.set(k, params.get(k));
    q.set('limit', '1000');
    try {
      const doc = await get(`/v1/audit?${q}`);
      box.append(doc.records.length ? auditTable(doc.records) : h('p', { class: 'muted' }, 'No control action recorded.'));
    } catch (e) { box.append(errorBox(e, 'Reading audit')); }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const [k, v] of new FormData(form)) { if (String(v)) params.set(k, v); else params.delete(k); }
    history.replaceState(null, '', `/audit${params.toString() ? '?' + params : ''}`);
    load();
  });
  load();
}

// The audit records as a table (also the run page's Audit tab).
export function auditTable(records) {
  return h('table', { class: 'audit' },
    h('thead', {}, h('tr', {}, ['Time', 'Actor', 'Action', 'Target', 'New run', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, records.map((a) => h('tr', { 'data-action': a.action },
      h('td', {}, fmtTime(a.time)), h('td', {}, a.actor || ''), h('td', {}, a.action),
      h('td', {}, a.run_id ? runLink(a.run_id) : '', a.step ? [' step ', h('code', {}, a.step)] : '', a.workflow_id && !a.run_id ? a.workflow_id : ''),
      h('td', {}, a.new_run_id ? runLink(a.new_run_id) : ''),
      h('td', {}, a.reason || '')))));
}
