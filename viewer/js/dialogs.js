// dialogs.js — the forks a user starts from a run: replay (as-is, a new
// prompt revision or a new model; renamed steps mapped), reset after a
// step, and rerun (from a step, or one step with overrides). Each posts
// to the API, shows the API's own error in the dialog, and on success a
// toast linking to the new run.

import { get, post, enc } from './api.js';
import { h, clear, assetLine } from './util.js';
import { toast } from './app.js';

let seq = 0;
const uid = (p) => `${p}-${++seq}`;

// A labelled field: [label, control].
function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control,
    hint ? h('div', { class: 'hint' }, hint) : null);
}

function modal(title, build) {
  const titleId = uid('title');
  const err = h('div', { class: 'dialog-error', role: 'alert', 'aria-live': 'assertive' });
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
  const form = h('form', { method: 'dialog' });
  d.append(form);
  form.append(h('h2', { id: titleId }, title));
  const api = {
    d, form, err,
    fail(e) {
      clear(err).append(h('strong', {}, e.describe ? e.describe() : String(e)), e.hint ? h('div', { class: 'hint' }, e.hint) : '');
    },
    close() { d.close(); d.remove(); },
  };
  build(api);
  form.append(err);
  d.addEventListener('cancel', () => d.remove());
  document.body.append(d);
  d.showModal();
  return api;
}

function buttons(api, label, onSubmit) {
  const submit = h('button', { type: 'submit', class: 'primary', 'data-submit': true }, label);
  const cancel = h('button', { type: 'button', onclick: () => api.close() }, 'Cancel');
  api.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    clear(api.err);
    try { await onSubmit(); } catch (x) { api.fail(x); } finally { submit.disabled = false; api.revalidate && api.revalidate(); }
  });
  return { row: h('div', { class: 'buttons' }, submit, cancel), submit };
}

function submitted(what, doc) {
  toast(`${what} submitted — new run: ${doc.run_id}`, { linkTo: `/runs/${doc.run_id}` });
}

// The banner of a replay or rerun: which mutating steps it dry-runs and
// which it performs for real (the allow box, or the step's own policy).
function mutationBanner(run, allowBox) {
  const box = h('div', { class: 'banner', role: 'status', 'data-banner': true });
  const mutating = run.steps.filter((s) => s.mutates);
  const draw = () => {
    clear(box);
    if (!mutating.length) { box.hidden = true; return; }
    box.hidden = false;
    const real = mutating.filter((s) => allowBox.checked || s.replay_allows_mutations);
    const dry = mutating.filter((s) => !real.includes(s));
    box.classList.toggle('banner-danger', real.length > 0);
    if (dry.length)
      box.append(h('p', {}, h('strong', {}, 'DRY-RUN: '), `mutating step(s) ${dry.map((s) => s.name).join(', ')} will dry-run: their recorded output is kept, nothing is performed.`));
    if (real.length)
      box.append(h('p', {}, h('strong', {}, 'WILL REALLY RUN: '), `${real.map((s) => s.name).join(', ')} will be performed for real`,
        allowBox.checked ? ' (allow mutations is checked).' : ' (its definition allows mutations on replay).'));
  };
  allowBox.addEventListener('change', draw);
  draw();
  return box;
}

// ---------------------------------------------------------------- replay
export function replayDialog(run) {
  modal(`Replay run ${run.run_id}`, (api) => {
    const mode = h('fieldset', { class: 'modes' }, h('legend', {}, 'What changes'),
      [['as-is', 'As-is (the recorded input and definition)'], ['prompt', 'New prompt'], ['model', 'New model']].map(([v, t], i) =>
        h('label', {}, h('input', { type: 'radio', name: 'mode', value: v, checked: i === 0 }), ' ', t)));
    const artifact = h('input', { name: 'artifact', placeholder: 'prompt_triage.summarize' });
    const hash = h('input', { name: 'hash', placeholder: 'sha256:…' });
    const modelId = h('input', { name: 'model_id', placeholder: 'claude-haiku-4-5' });
    const provider = h('input', { name: 'provider', placeholder: 'anthropic' });
    const promptBox = h('div', { class: 'mode-fields', hidden: true },
      field('Prompt artifact id', artifact), field('Content hash', hash, 'the revision to use: cairn prompt show ID lists them'));
    const modelBox = h('div', { class: 'mode-fields', hidden: true },
      field('Model id', modelId), field('Provider ref', provider, 'a provider of config.json'));
    const definition = h('select', { name: 'definition' },
      h('option', { value: 'original' }, 'original (the run’s own snapshot)'),
      h('option', { value: 'current' }, 'current (the latest registered version)'));
    const allow = h('input', { type: 'checkbox', name: 'allow_mutations', id: uid('allow') });
    // Assets the run produced that are stale now: the replay is refused
    // unless the user says so (docs/assets.md).
    const stale = (run.assets || []).filter((a) => a.stale);
    const allowStale = h('input', { type: 'checkbox', name: 'allow_stale_assets', id: uid('stale') });
    const staleBox = stale.length ? h('div', { class: 'banner banner-danger', role: 'alert', id: 'stale-banner' },
      h('p', {}, h('strong', {}, `${stale.length} asset(s) this run produced are stale: `),
        'replaying it would bring older outputs back.'),
      h('ul', { class: 'assets' }, stale.map(assetLine)),
      h('label', { for: allowStale.id }, allowStale, ' Replay onto stale assets anyway')) : null;
    const reason = h('input', { name: 'reason', placeholder: 'why (kept in the audit)' });
    const renames = h('div', { class: 'renames', role: 'alert' });
    const mapping = { map: null, share: false, needed: [], gained: [], saved: false };
    const b = buttons(api, 'Replay', async () => {
      const body = { definition: definition.value, allow_mutations: allow.checked };
      if (allowStale.checked) body.allowStaleAssets = true;
      const m = new FormData(api.form).get('mode');
      if (m === 'prompt') body.prompt = { artifact: artifact.value.trim(), hash: hash.value.trim() };
      if (m === 'model') body.model = { id: modelId.value.trim(), provider: provider.value.trim() };
      if (mapping.map && !mapping.saved) { body.map = mapping.map; if (mapping.share) body.save_mapping = true; }
      if (reason.value.trim()) body.reason = reason.value.trim();
      const doc = await post(`/v1/runs/${enc(run.run_id)}/replay`, body);
      api.close();
      submitted('Replay', doc);
    });
    api.revalidate = () => {
      const m = new FormData(api.form).get('mode');
      promptBox.hidden = m !== 'prompt';
      modelBox.hidden = m !== 'model';
      const unmapped = mapping.needed.length && !mapping.map;
      b.submit.disabled = (m === 'prompt' && (!artifact.value.trim() || !hash.value.trim())) ||
        (m === 'model' && (!modelId.value.trim() || !provider.value.trim())) || Boolean(unmapped) ||
        (stale.length > 0 && !allowStale.checked);
    };
    const checkRenames = async () => {
      clear(renames);
      Object.assign(mapping, { map: null, needed: [], gained: [], saved: false });
      api.revalidate();
      if (definition.value !== 'current' || !run.workflow) return;
      let wf;
      try { wf = await get(`/v1/workflows/${enc(run.workflow)}`); } catch (e) { api.fail(e); return; }
      if (wf.hash === run.definition_hash) return;
      const old = run.steps.map((s) => s.name);
      const now = ((wf.definition || {}).steps || []).map((s) => s.name);
      const lost = old.filter((n) => !now.includes(n));
      const gained = now.filter((n) => !old.includes(n));
      if (!lost.length || !gained.length) return;
      try {
        const saved = await get(`/v1/mappings?from=${run.definition_hash}&to=${wf.hash}`);
        Object.assign(mapping, { map: saved.map, saved: true });
        renames.append(h('p', {}, `A saved mapping is applied: ${Object.entries(saved.map).map(([a, c]) => `${a} → ${c}`).join(', ')}.`));
        api.revalidate();
        return;
      } catch (e) { if (e.status !== 404) { api.fail(e); return; } }
      mapping.needed = lost;
      mapping.gained = gained;
      const draw = () => {
        clear(renames);
        renames.className = mapping.map ? 'renames' : 'renames renames-needed';
        renames.append(h('p', {}, h('strong', {}, `${lost.length} renamed step(s) need mapping`),
          mapping.map ? ` — mapped: ${Object.entries(mapping.map).map(([a, c]) => `${a} → ${c}`).join(', ')}${mapping.share ? ' (shared)' : ' (private)'}` : ''),
        h('button', { type: 'button', id: 'map-steps', onclick: () => mappingDialog(lost, gained, mapping, () => { draw(); api.revalidate(); }) }, mapping.map ? 'Change mapping…' : 'Map steps…'));
      };
      draw();
      api.revalidate();
    };
    api.form.addEventListener('input', () => api.revalidate());
    api.form.addEventListener('change', () => api.revalidate());
    definition.addEventListener('change', checkRenames);
    api.form.append(mode, promptBox, modelBox, field('Definition', definition), renames, staleBox,
      h('div', { class: 'field' }, h('label', { for: allow.id }, allow, ' Allow mutations (perform mutating steps for real)')),
      mutationBanner(run, allow), field('Reason', reason), b.row);
    api.revalidate();
  });
}

// Each step the old definition lost → one the new one gained; private
// (this replay only) or shared (saved: later replays between the same two
// definitions apply it by themselves).
function mappingDialog(lost, gained, mapping, done) {
  modal('Map renamed steps', (api) => {
    const selects = lost.map((old) => {
      const s = h('select', { name: `map-${old}`, 'data-old': old },
        h('option', { value: '' }, '— pick the step it became —'),
        gained.map((g) => h('option', { value: g, selected: mapping.map && mapping.map[old] === g }, g)));
      return [old, s];
    });
    const vis = h('fieldset', {}, h('legend', {}, 'Visibility'),
      h('label', {}, h('input', { type: 'radio', name: 'visibility', value: 'private', checked: !mapping.share }), ' Private: this replay only'),
      h('label', {}, h('input', { type: 'radio', name: 'visibility', value: 'shared', checked: mapping.share }), ' Shared: saved for later replays between these definitions'));
    const b = buttons(api, 'Use this mapping', async () => {
      const map = {};
      for (const [old, s] of selects) map[old] = s.value;
      mapping.map = map;
      mapping.share = new FormData(api.form).get('visibility') === 'shared';
      api.close();
      done();
    });
    api.revalidate = () => {
      const vals = selects.map(([, s]) => s.value);
      b.submit.disabled = vals.some((v) => !v) || new Set(vals).size !== vals.length;
    };
    api.form.addEventListener('change', () => api.revalidate());
    api.form.append(h('p', {}, 'The new definition lost these steps and gained others: say which step each became.'),
      ...selects.map(([old, s]) => field(`${old} →`, s)), vis, b.row);
    api.revalidate();
  });
}

// ----------------------------------------------------------------- reset
export function resetDialog(run, step) {
  modal(`Reset run ${run.run_id}`, (api) => {
    const completed = run.steps.filter((s) => s.status === 'completed');
    const sel = h('select', { name: 'step', id: uid('step') },
      completed.map((s) => h('option', { value: s.name, selected: s.name === step }, s.name)));
    const reason = h('input', { name: 'reason', required: true, placeholder: 'why (required, kept in the audit)' });
    const b = buttons(api, 'Reset', async () => {
      const doc = await post(`/v1/runs/${enc(run.run_id)}/reset`, { step: sel.value, reason: reason.value.trim() });
      api.close();
      submitted('Reset', doc);
    });
    api.revalidate = () => { b.submit.disabled = !reason.value.trim() || !sel.value; };
    api.form.addEventListener('input', () => api.revalidate());
    api.form.append(h('p', {}, 'A new run keeps what completed up to and including this step, and runs the rest (mutating steps for real: a reset is the workflow carrying on).'),
      field('After step', sel), field('Reason', reason), b.row);
    api.revalidate();
  });
}

// ----------------------------------------------------------------- rerun
export function rerunDialog(run, step) {
  modal(`Rerun in run ${run.run_id}`, (api) => {
    const mode = h('fieldset', { class: 'modes' }, h('legend', {}, 'What reruns'),
      h('label', {}, h('input', { type: 'radio', name: 'mode', value: 'from', checked: true }), ' This step and everything downstream (a new run)'),
      h('label', {}, h('input', { type: 'radio', name: 'mode', value: 'single' }), ' Only this step (in the same run; downstream steps are marked stale)'));
    const sel = h('select', { name: 'step' }, run.steps.map((s) => h('option', { value: s.name, selected: s.name === step }, s.name)));
    const prompt = h('textarea', { name: 'prompt', rows: 5 });
    const model = h('input', { name: 'model', placeholder: 'PROVIDER:MODEL' });
    const input = h('textarea', { name: 'input', rows: 5, class: 'mono' });
    input.value = JSON.stringify(run.input, null, 2);
    const allow = h('input', { type: 'checkbox', name: 'allow_mutations', id: uid('allow') });
    const reason = h('input', { name: 'reason', placeholder: 'why (kept in the audit)' });
    const llmBox = h('div', {}, field('Prompt override', prompt, 'empty: the step keeps its prompt'), field('Model override', model));
    // The step's latest rendered prompt, in full (the run page holds a
    // summary without it).
    const fill = async () => {
      const s = run.steps.find((x) => x.name === sel.value);
      llmBox.hidden = !(s && s.kind === 'llm');
      prompt.value = '';
      prompt.dataset.orig = '';
      if (!s || s.kind !== 'llm') return;
      try {
        const full = (await get(`/v1/runs/${enc(run.run_id)}/steps/${enc(s.name)}`)).step;
        const last = full.attempts[full.attempts.length - 1];
        if (sel.value !== s.name) return;
        prompt.value = last && last.llm && typeof last.llm.prompt === 'string' ? last.llm.prompt : '';
        prompt.dataset.orig = prompt.value;
      } catch (e) { api.fail(e); }
    };
    sel.addEventListener('change', fill);
    const b = buttons(api, 'Rerun', async () => {
      const overrides = {};
      if (prompt.value !== prompt.dataset.orig && prompt.value.trim()) overrides.prompts = { [sel.value]: prompt.value };
      if (model.value.trim()) overrides.models = { [sel.value]: model.value.trim() };
      let newInput;
      try { newInput = JSON.parse(input.value); } catch (e) { throw new Error(`the input is not JSON: ${e.message}`); }
      const changed = {};
      if (newInput && typeof newInput === 'object' && !Array.isArray(newInput) && run.input && typeof run.input === 'object') {
        for (const [k, v] of Object.entries(newInput))
          if (JSON.stringify(v) !== JSON.stringify(run.input[k])) changed[k] = v;
        if (Object.keys(run.input).some((k) => !(k in newInput)))
          throw new Error('removing an input field is not an override cairn takes: set it to null instead');
      } else if (JSON.stringify(newInput) !== JSON.stringify(run.input)) {
        throw new Error('the input must stay an object: change its fields');
      }
      if (Object.keys(changed).length) overrides.input = changed;
      const single = new FormData(api.form).get('mode') === 'single';
      const body = { allow_mutations: allow.checked };
      body[single ? 'step' : 'from_step'] = sel.value;
      if (Object.keys(overrides).length) body.overrides = overrides;
      if (reason.value.trim()) body.reason = reason.value.trim();
      const doc = await post(`/v1/runs/${enc(run.run_id)}/rerun`, body);
      api.close();
      if (single) toast(`Rerun submitted — run: ${doc.run_id} (the same run)`, { linkTo: `/runs/${doc.run_id}` });
      else submitted('Rerun', doc);
    });
    api.form.append(mode, field('Step', sel), llmBox, field('Run input (edit fields to override them)', input),
      h('div', { class: 'field' }, h('label', { for: allow.id }, allow, ' Allow mutations (perform mutating steps for real)')),
      mutationBanner(run, allow), field('Reason', reason), b.row);
    fill();
  });
}
