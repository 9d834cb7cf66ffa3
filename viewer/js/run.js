// run.js — one run: its header, a timeline of steps and attempts drawn to
// scale, each attempt's details, the raw history (fetched by pages), the
// lineage of its workflow id and its audit records; live while it runs.

import { get, enc, stream } from './api.js';
import { h, clear, link, runLink, short, statusBadge, markBadge, fmtTime, fmtMs, jsonView, VirtualList, errorBox, assetLine } from './util.js';
import { auditTable } from './audit.js';
import { setLive } from './app.js';
import { replayDialog, resetDialog, rerunDialog } from './dialogs.js';

const ROW = 30;           // timeline and history row height, px
const dd = (t, v) => [h('dt', {}, t), h('dd', {}, v)];
const retries = (n) => `${n} retr${n > 1 ? 'ies' : 'y'}`; // attempts after the first

export function runPage(main, id, tab) {
  const ctl = new AbortController();
  const state = { run: null, selected: null, tab, history: null };
  const head = h('div', {});
  const actions = h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Run actions' });
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Views of the run' });
  const panel = h('div', { class: 'tabpanel', role: 'tabpanel' });
  const msg = h('div', {});
  main.append(msg, head, actions, tabs, panel);

  let timeline = null;   // {list, details}
  let historyView = null;

  const onKey = (e) => {
    if (e.key !== 'r' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest('input, textarea, select, dialog')) return;
    if (state.run) { e.preventDefault(); replayDialog(state.run); }
  };
  document.addEventListener('keydown', onKey);

  async function load() {
    try {
      // The summary: attempts without inputs and outputs, which the
      // details panel fetches for the step it shows.
      state.run = await get(`/v1/runs/${enc(id)}?view=summary`);
      state.full = new Map();
    } catch (e) {
      clear(msg).append(errorBox(e, `Reading run ${id}`));
      return false;
    }
    clear(msg);
    document.title = `${state.run.workflow || state.run.workflow_id} ${short(state.run.run_id)} — cairn`;
    drawHead();
    drawActions();
    drawTabs();
    if (state.tab === 'timeline' && timeline) drawTimeline();
    return true;
  }

  function drawHead() {
    const r = state.run;
    const o = r.origin || {};
    clear(head).append(
      h('h1', {}, r.workflow || r.workflow_id, ' ', statusBadge(r.status),
        r.steps.some((s) => s.stale) ? [' ', markBadge('stale', 'a step upstream was rerun after it ran')] : null,
        r.steps.some((s) => s.attempts.some((a) => a.dry_run)) ? [' ', markBadge('dry-run', 'a mutating step was recorded, not performed')] : null),
      h('dl', { class: 'facts' },
        dd('Workflow id', link(`/lineage/${enc(r.run_id)}`, r.workflow_id)),
        dd('Run id', h('code', { class: 'run-id' }, r.run_id)),
        dd('Definition', [r.version ? `version ${r.version} ` : 'derived ', h('code', { title: r.definition_hash }, r.definition_hash.slice(0, 12))]),
        dd('Started', fmtTime(r.started_us)),
        dd('Duration', fmtMs(r.duration_ms)),
        dd('Origin', [o.kind === 'none' ? 'start' : o.kind,
          o.parent_run_id ? [' of ', runLink(o.parent_run_id)] : null,
          o.point ? [' at step ', h('code', {}, o.point)] : null,
          o.reason ? [' — “', o.reason, '”'] : null,
          o.actor ? [' by ', o.actor] : null]),
        dd('Input', jsonView(r.input, { label: 'input' })),
        dd('Output', r.output === null ? h('span', { class: 'muted' }, 'none') : jsonView(r.output, { label: 'output' })),
        r.error ? dd('Error', h('span', { class: 'error-text' }, `${r.error.code || 'error'}: ${r.error.message || ''}`)) : null,
        r.partition ? dd('Partition', h('code', {}, r.partition)) : null,
        r.assets && r.assets.length ? dd('Assets', h('ul', { class: 'assets', id: 'run-assets' }, r.assets.map(assetLine))) : null));
  }

  function drawActions() {
    const r = state.run;
    const running = r.status === 'running';
    clear(actions).append(
      h('button', { type: 'button', class: 'primary', id: 'replay-button', disabled: running, title: running ? 'the run is still in flight' : 'keyboard: r', onclick: () => replayDialog(r) }, 'Replay…'),
      h('button', { type: 'button', id: 'reset-button', disabled: !r.steps.some((s) => s.status === 'completed'), onclick: () => resetDialog(r) }, 'Reset after a step…'),
      h('button', { type: 'button', id: 'rerun-button', disabled: running, onclick: () => rerunDialog(r) }, 'Rerun…'),
      link(`/compare/${enc(r.run_id)}`, 'Compare…', { class: 'button', id: 'compare-link' }));
  }

  function drawTabs() {
    clear(tabs);
    for (const [key, label] of [['timeline', 'Timeline'], ['history', 'History'], ['lineage', 'Lineage'], ['audit', 'Audit']]) {
      tabs.append(h('button', {
        type: 'button', role: 'tab', id: `tab-${key}`, 'aria-selected': String(state.tab === key),
        onclick: () => { if (state.tab !== key) { state.tab = key; drawTabs(); show(); } },
      }, label));
    }
  }

  function show() {
    clear(panel);
    timeline = null;
    historyView = null;
    if (state.tab === 'timeline') drawTimeline();
    else if (state.tab === 'history') drawHistory();
    else if (state.tab === 'lineage') drawLineage(panel, state.run);
    else drawAudit(panel, state.run);
  }

  // ---------------------------------------------------------- timeline
  function drawTimeline() {
    const r = state.run;
    const t0 = r.started_us;
    const t1 = Math.max(r.ended_us || Date.now() * 1000, t0 + 1,
      ...r.steps.flatMap((s) => s.attempts.map((a) => a.ended_us || a.started_us)));
    const span = t1 - t0;
    const pos = (t) => `${(100 * (t - t0)) / span}%`;
    if (!timeline) {
      clear(panel);
      const box = h('div', { class: 'timeline', id: 'timeline' });
      const details = h('section', { class: 'step-details', 'aria-live': 'polite', id: 'step-details' });
      panel.append(
        h('div', { class: 'timeline-head', 'aria-hidden': 'true' },
          h('span', {}, 'Step'), h('span', {}, 'Status'), h('span', {}, `0 → ${fmtMs(span / 1000)}`)),
        box, details);
      const list = new VirtualList(box, {
        rowHeight: ROW, label: 'Steps of the run, in definition order',
        render: (i) => stepRow(i),
      });
      box.addEventListener('keydown', (e) => {
        const n = state.run.steps.length;
        let i = state.run.steps.findIndex((s) => s.name === state.selected);
        if (e.key === 'ArrowDown') i = Math.min(n - 1, i + 1);
        else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
        else return;
        e.preventDefault();
        select(state.run.steps[i].name);
        list.scrollTo(i);
      });
      timeline = { list, details };
    }
    timeline.pos = pos;
    timeline.list.box.style.height = `min(55vh, ${r.steps.length * ROW + 2}px)`;
    timeline.list.setCount(r.steps.length);
    if (!state.selected) {
      const failed = r.steps.find((s) => s.status === 'failed');
      state.selected = (failed || r.steps[0] || {}).name || null;
    }
    drawDetails();
  }

  function stepRow(i) {
    const s = state.run.steps[i];
    const track = h('div', { class: 'track' });
    for (const a of s.attempts) {
      const end = a.ended_us || Date.now() * 1000;
      const seg = h('span', {
        class: `seg seg-${a.status}${s.kind === 'sleep' || s.kind === 'wait' ? ' seg-timer' : ''}${a.dry_run ? ' seg-dry' : ''}`,
        title: `attempt ${a.attempt}: ${a.status}, ${fmtMs(a.duration_ms)}`,
      });
      seg.style.left = timeline.pos(a.started_us);
      seg.style.width = `max(3px, calc(${timeline.pos(end)} - ${timeline.pos(a.started_us)}))`;
      track.append(seg);
    }
    const marks = [
      s.attempts.length > 1 ? markBadge(retries(s.attempts.length - 1), 'attempts after the first') : null,
      s.reused ? markBadge('reused', 'output kept from the parent run') : null,
      s.stale ? markBadge('stale', 'a step upstream was rerun after this one ran') : null,
      s.attempts.some((a) => a.dry_run) ? markBadge('dry-run', 'recorded from the source run, not performed') : null,
      s.kind === 'sleep' || s.kind === 'wait' ? markBadge('timer', 'a durable timer') : null,
    ];
    return h('div', {
      class: `step-row${state.selected === s.name ? ' selected' : ''} st-row-${s.status}`,
      'data-step': s.name, 'aria-selected': String(state.selected === s.name),
      onclick: () => select(s.name),
    },
    h('span', { class: 'step-name', title: s.needs.length ? `needs ${s.needs.join(', ')}` : 'needs nothing' }, s.name),
    h('span', { class: 'step-status' }, statusBadge(s.status), marks),
    track);
  }

  function select(name) {
    state.selected = name;
    timeline.list.refresh();
    drawDetails();
  }

  async function drawDetails() {
    const r = state.run;
    const name = state.selected;
    if (!r.steps.some((x) => x.name === name)) return;
    let s = state.full.get(name);
    if (!s) {
      try {
        s = (await get(`/v1/runs/${enc(r.run_id)}/steps/${enc(name)}`)).step;
      } catch (e) {
        clear(timeline.details).append(errorBox(e, `Reading step ${name}`));
        return;
      }
      if (state.run !== r) return; // reloaded meanwhile: that draw wins
      state.full.set(name, s);
    }
    if (state.selected !== name || !timeline) return;
    const d = clear(timeline.details);
    d.append(h('h2', {}, 'Step ', h('code', {}, s.name), ' ', statusBadge(s.status)),
      h('p', { class: 'muted' }, `${s.kind || 'step'}`, s.needs.length ? ` · needs ${s.needs.join(', ')}` : '',
        s.mutates ? ' · mutates' : '', ` · ${s.attempts.length} attempt(s)`,
        s.attempts.length > 1 ? ` · ${retries(s.attempts.length - 1)}` : ''),
      h('div', { class: 'buttons' },
        s.status === 'completed' ? h('button', { type: 'button', onclick: () => resetDialog(r, s.name) }, 'Reset after this step…') : null,
        r.status !== 'running' ? h('button', { type: 'button', onclick: () => rerunDialog(r, s.name) }, 'Rerun this step…') : null));
    if (s.reused) d.append(h('p', {}, 'Output reused from the parent run: no attempt ran here.'));
    for (const a of [...s.attempts].reverse()) {
      const llm = a.llm;
      const [provider, model] = llm && typeof llm.model === 'string' && llm.model.includes(':')
        ? llm.model.split(/:(.*)/s) : [null, llm ? llm.model : null];
      d.append(h('article', { class: `attempt st-box-${a.status}`, 'aria-label': `attempt ${a.attempt}` },
        h('h3', {}, `Attempt ${a.attempt} `, statusBadge(a.status),
          a.dry_run ? [' ', markBadge('dry-run', 'recorded from the source run, not performed')] : null,
          s.stale ? [' ', markBadge('stale')] : null),
        h('dl', { class: 'facts' },
          dd('Started', fmtTime(a.started_us)),
          dd('Runtime', fmtMs(a.duration_ms)),
          llm ? [
            dd('Provider', provider || h('span', { class: 'muted' }, 'default')),
            dd('Model', model || '—'),
            dd('Tokens', `${llm.input_tokens ?? '—'} in, ${llm.output_tokens ?? '—'} out`),
            dd('Cost', llm.cost_usd === null || llm.cost_usd === undefined ? '—' : `$${Number(llm.cost_usd).toFixed(6)}`),
            llm.system ? dd('System', h('pre', { class: 'prompt' }, llm.system)) : null,
            dd('Prompt', h('pre', { class: 'prompt' }, llm.prompt ?? '')),
          ] : dd('Input', jsonView(a.input, { label: 'input' })),
          dd('Output', a.output === null ? h('span', { class: 'muted' }, 'none') : jsonView(a.output, { label: 'output', open: true })),
          a.error ? dd('Error', [h('div', { class: 'error-text' }, `${a.error.code}: ${a.error.message}`),
            a.error.retryable ? ' (retryable)' : ' (not retryable)',
            a.error.details !== undefined && a.error.details !== null ? jsonView(a.error.details, { label: 'error details' }) : null]) : null,
          a.score !== null && a.score !== undefined ? dd('Score', String(a.score)) : null)));
    }
  }

  // ----------------------------------------------------------- history
  function drawHistory() {
    const events = [];
    let next = 0;
    let loading = false;
    const box = h('div', { class: 'history', id: 'history' });
    panel.append(h('div', { class: 'history-head', 'aria-hidden': 'true' },
      ['Seq', 'Time', 'Type', 'Step', 'Detail'].map((t) => h('span', {}, t))), box);
    const list = new VirtualList(box, {
      rowHeight: ROW, label: 'Every event of the run, in order',
      render: (i) => {
        const e = events[i];
        const rest = Object.assign({}, e);
        for (const k of ['seq', 'type', 'time', 'time_us', 'step']) delete rest[k];
        return h('div', { class: `hist-row ev-${e.type.replace('.', '-')}`, title: JSON.stringify(e) },
          h('span', { class: 'num' }, e.seq), h('span', {}, fmtTime(e.time_us)),
          h('span', {}, e.type), h('span', {}, e.step || ''),
          h('code', {}, JSON.stringify(rest).slice(0, 200)));
      },
      onNearEnd: () => more(),
    });
    async function more() {
      if (loading || next === null) return;
      loading = true;
      try {
        const doc = await get(`/v1/runs/${enc(state.run.run_id)}/history?after=${next}&limit=1000`);
        events.push(...doc.events);
        next = doc.next_after;
        list.setCount(events.length);
      } catch (e) {
        panel.append(errorBox(e, 'Reading history'));
        next = null;
      }
      loading = false;
    }
    historyView = {
      add(ev) { if (next === null && ev.seq === events.length + 1) { events.push(ev); list.setCount(events.length); } },
    };
    more();
  }

  // -------------------------------------------------------------- live
  let timer = null;
  const reload = () => {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      if (await load() && state.tab === 'timeline') timeline && timeline.list.refresh();
    }, 200);
  };

  (async () => {
    if (!await load()) return;
    show();
    if (state.run.status === 'running') {
      stream(`/v1/runs/${enc(state.run.run_id)}/events?after=0`, (ev) => {
        if (historyView) historyView.add(ev.data);
        reload(); // throttled: one redraw per 200 ms however many events
      }, { signal: ctl.signal, onState: setLive, onEnd: () => { setLive(false); reload(); } });
    }
  })();

  return () => { ctl.abort(); setLive(false); document.removeEventListener('keydown', onKey); clearTimeout(timer); };
}

// ------------------------------------------------------------- lineage
async function drawLineage(panel, run) {
  let doc;
  try { doc = await get(`/v1/runs/${enc(run.run_id)}/lineage`); } catch (e) { panel.append(errorBox(e, 'Reading lineage')); return; }
  const kids = new Map();
  for (const r of doc.runs) {
    const p = r.parent_run_id || '';
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(r);
  }
  const known = new Set(doc.runs.map((r) => r.run_id));
  const node = (r) => {
    const o = r.origin || {};
    const edge = o.kind && o.kind !== 'none'
      ? h('span', { class: 'edge' }, `${o.kind}${o.point ? ' at ' + o.point : ''}`, o.reason ? ` — “${o.reason}”` : '', o.actor ? ` by ${o.actor}` : '', o.time ? ` · ${fmtTime(o.time)}` : '')
      : h('span', { class: 'edge' }, `started${o.actor ? ' by ' + o.actor : ''}${o.time ? ' · ' + fmtTime(o.time) : ''}`);
    return h('li', {},
      h('div', { class: `lineage-node${r.run_id === run.run_id ? ' this' : ''}`, 'data-run': r.run_id },
        runLink(r.run_id, r.run_id), ' ', statusBadge(r.status), r.current ? [' ', markBadge('current', 'the current run of the workflow id')] : null,
        r.run_id === run.run_id ? h('span', { class: 'sr-only' }, ' (this run)') : null, ' ', edge),
      (kids.get(r.run_id) || []).length ? h('ul', {}, kids.get(r.run_id).map(node)) : null);
  };
  const roots = doc.runs.filter((r) => !r.parent_run_id || !known.has(r.parent_run_id));
  panel.append(h('h2', {}, 'Lineage of ', h('code', {}, doc.workflow_id)),
    h('ul', { class: 'lineage', id: 'lineage' }, roots.map(node)));
}

// --------------------------------------------------------------- audit

async function drawAudit(panel, run) {
  let doc;
  try { doc = await get(`/v1/audit?workflow=${enc(run.workflow_id)}&limit=1000`); } catch (e) { panel.append(errorBox(e, 'Reading audit')); return; }
  panel.append(h('h2', {}, 'Control actions on ', h('code', {}, run.workflow_id)), auditTable(doc.records));
}
