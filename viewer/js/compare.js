// compare.js — two runs of a workflow side by side: what `cairn diff`
// answers (GET /v1/runs/{a}/diff?compareTo={b}), drawn field by field,
// the steps that changed highlighted and marked "changed".

import { get, enc } from './api.js';
import { h, put, runLink, statusBadge, fmtMs, jsonView, fmtTime, link, errorBox, assetLine } from './util.js';
import { navigate } from './app.js';

function diffTable(caption, diffs) {
  if (!diffs || !diffs.length) return h('p', { class: 'same' }, `${caption}: the same`);
  return h('table', { class: 'diff' }, h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ['Field', 'Change', 'In A', 'In B'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, diffs.map((d) => h('tr', { class: `chg-${d.change}` },
      h('td', {}, h('code', {}, d.path)), h('td', {}, d.change),
      h('td', {}, 'before' in d ? jsonView(d.before) : '—'),
      h('td', {}, 'after' in d ? jsonView(d.after) : '—')))));
}

const side = (x) => x ? [statusBadge(x.status), ` ${x.attempts} attempt(s), ${fmtMs(x.duration_ms)}`, x.reused ? ' (reused)' : '',
  x.error ? h('div', { class: 'error-text' }, `${x.error.code}: ${x.error.message}`) : ''] : '—';

export function comparePage(main, a, b) {
  main.append(h('h1', {}, 'Compare runs'));
  const box = h('div', {});
  main.append(box);
  (async () => {
    let run;
    try { run = await get(`/v1/runs/${enc(a)}`); } catch (e) { box.append(errorBox(e, `Reading run ${a}`)); return; }
    // The other run: any run of the same workflow (name), or of its id.
    const q = run.workflow ? `workflow=${enc(run.workflow)}` : `workflow_id=${enc(run.workflow_id)}`;
    let others = [];
    try { others = (await get(`/v1/runs?${q}&limit=200`)).runs.filter((r) => r.run_id !== run.run_id); } catch (e) { box.append(errorBox(e, 'Listing runs')); }
    const pick = h('select', { id: 'compare-with', name: 'with' },
      h('option', { value: '' }, '— pick a run —'),
      others.map((r) => h('option', { value: r.run_id, selected: r.run_id === b }, `${r.run_id} · ${r.status} · ${r.origin === 'none' ? 'start' : r.origin} · ${fmtTime(r.started)}`)));
    pick.addEventListener('change', () => { if (pick.value) navigate(`/compare/${enc(run.run_id)}/${enc(pick.value)}`, { replace: true }); });
    box.append(h('p', {}, 'A: ', runLink(run.run_id, run.run_id), ' ', statusBadge(run.status)),
      h('div', { class: 'field' }, h('label', { for: 'compare-with' }, 'B: compare with'), pick));
    if (!b) {
      if (!others.length) box.append(h('p', { class: 'muted' }, 'No other run of this workflow yet.'));
      return;
    }
    let d;
    try { d = await get(`/v1/runs/${enc(run.run_id)}/diff?compareTo=${enc(b)}`); } catch (e) { box.append(errorBox(e, 'Comparing')); return; }
    const out = h('div', { id: 'diff' });
    box.append(out);
    const warn = d.stale_warning;
    put(out, warn ? h('div', { class: 'banner banner-danger', role: 'alert', id: 'stale-banner' },
      h('p', {}, h('strong', {}, 'Stale assets: '), warn.message),
      h('ul', { class: 'assets' }, warn.assets.map((x) => assetLine(Object.assign({ stale: true }, x))))) : null,
    h('p', { class: d.identical ? 'same' : 'changed-summary' }, d.identical ? 'The runs are identical.' :
      `${d.steps.filter((s) => !s.same).length} step(s) differ.`),
    h('table', { class: 'diff' }, h('caption', {}, 'Runs'),
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', { scope: 'col' }, 'A'), h('th', { scope: 'col' }, 'B'))),
      h('tbody', {},
        h('tr', {}, h('th', { scope: 'row' }, 'Run'), h('td', {}, runLink(d.run_a.run_id, d.run_a.run_id)), h('td', {}, runLink(d.run_b.run_id, d.run_b.run_id))),
        h('tr', {}, h('th', { scope: 'row' }, 'Status'), h('td', {}, statusBadge(d.run_a.status)), h('td', {}, statusBadge(d.run_b.status))),
        h('tr', {}, h('th', { scope: 'row' }, 'Origin'), h('td', {}, d.run_a.origin.kind), h('td', {}, d.run_b.origin.kind)),
        h('tr', {}, h('th', { scope: 'row' }, 'Definition'), h('td', {}, h('code', {}, d.run_a.definition_hash.slice(0, 12))), h('td', {}, h('code', {}, d.run_b.definition_hash.slice(0, 12)))))),
    diffTable('Input', d.input),
    d.definition.same ? h('p', { class: 'same' }, 'Parameters (definition): the same') :
      h('div', {}, h('h2', {}, 'Parameters (definition)'),
        d.definition.added.length ? h('p', {}, `Steps only in B: ${d.definition.added.join(', ')}`) : null,
        d.definition.removed.length ? h('p', {}, `Steps only in A: ${d.definition.removed.join(', ')}`) : null,
        d.definition.changed.map((c) => diffTable(`Step ${c.step}`, c.diff)),
        d.definition.fields.length ? diffTable('Workflow fields', d.definition.fields) : null),
    h('table', { class: 'diff steps-diff', id: 'steps-diff' }, h('caption', {}, 'Steps'),
      h('thead', {}, h('tr', {}, ['Step', 'A', 'B', 'Output'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, d.steps.map((s) => h('tr', { class: s.same ? 'same-row' : 'changed', 'data-step': s.name },
        h('th', { scope: 'row' }, s.name, s.same ? '' : h('span', { class: 'badge mark-changed' }, 'changed')),
        h('td', {}, side(s.a)), h('td', {}, side(s.b)),
        h('td', {}, s.output.length ? diffTable(`Output of ${s.name}`, s.output) : 'same'))))),
    diffTable('Output', d.output),
    h('div', { class: 'transitions' }, h('h2', {}, 'Status transitions', d.transitions.same ? ' (the same)' : ''),
      h('div', { class: 'two' },
        h('ol', { 'aria-label': 'transitions of A' }, d.transitions.a.map((t, i) => h('li', { class: d.transitions.b[i] === t ? '' : 'changed' }, t))),
        h('ol', { 'aria-label': 'transitions of B' }, d.transitions.b.map((t, i) => h('li', { class: d.transitions.a[i] === t ? '' : 'changed' }, t))))),
    h('div', { id: 'assets-diff' }, diffTable('Assets', d.assets)),
    h('p', {}, link(`/compare/${enc(b)}/${enc(run.run_id)}`, 'Swap A and B')));
  })();
}
