// viewer.test.mjs SCENARIO — a browser test of the run viewer: real
// headless Chromium (Debian's /usr/bin/chromium; puppeteer-core downloads
// nothing) against the real `cairn serve` at $CAIRN_API (run.sh starts
// it). Sets up its runs through the public API, drives the page like a
// user (clicks, keys, typing), asserts what the page shows, and saves
// $CAIRN_SHOTS/SCENARIO.png.
import puppeteer from 'puppeteer-core';

const API = process.env.CAIRN_API;
const SHOTS = process.env.CAIRN_SHOTS;
const scenario = process.argv[2];
const TOKEN = process.env.CAIRN_TOKEN || '';

// ------------------------------------------------------------- the API
async function api(method, path, body) {
  const res = await fetch(API + path, {
    method,
    headers: Object.assign({ 'Content-Type': 'application/json' }, TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const register = (def) => api('POST', '/v1/workflows', def);
async function start(workflow, input) {
  return (await api('POST', '/v1/runs', { workflow, input })).run_id;
}
async function waitStatus(id, want) {
  for (let i = 0; i < 200; i++) {
    const r = await api('GET', `/v1/runs/${id}/result`);
    if (r.status === want) return r;
    if (r.status !== 'running') throw new Error(`run ${id} is ${r.status}, want ${want}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`run ${id} did not become ${want}`);
}
const exec = (name, command, extra) => Object.assign({ name, kind: 'exec', with: { command } }, extra || {});
const echoJson = (json) => ['sh', '-c', `printf '%s' '${JSON.stringify(json)}'`];

// ----------------------------------------------------------- the page
let browser, page;
const errors = [];
function check(ok, what) {
  if (!ok) throw new Error(`FAIL: ${what}`);
  console.log(`ok: ${what}`);
}
async function open(path) {
  await page.goto(API + path, { waitUntil: 'domcontentloaded' });
}
async function waitText(sel, text, timeout = 10000) {
  try {
    await page.waitForFunction((s, t) => {
      const el = document.querySelector(s);
      return el && el.textContent.includes(t);
    }, { timeout }, sel, text);
  } catch {
    const got = await page.$eval(sel, (e) => e.textContent).catch(() => '(no such element)');
    throw new Error(`FAIL: ${sel} does not show "${text}" (it shows: ${got.slice(0, 400)})`);
  }
  console.log(`ok: ${sel} shows "${text}"`);
}
const textOf = (sel) => page.$eval(sel, (e) => e.textContent);
const click = async (sel) => { await page.waitForSelector(sel, { visible: true }); await page.click(sel); };
// The runs list re-renders as it refreshes, so a handle taken by
// page.click may be detached before the click lands; find and click in
// one step inside the page instead.
const clickNow = (sel) => page.waitForFunction((s) => {
  const el = document.querySelector(s);
  if (el) el.click();
  return !!el;
}, {}, sel);
const dialog = 'dialog[open]';
async function followToast(prefix) {
  await waitText('#toasts', prefix);
  const t = await textOf('#toasts .toast a');
  const id = t.split('new run: ')[1] || t.split('run: ')[1];
  await page.click('#toasts .toast a');
  await page.waitForFunction((i) => location.pathname === `/runs/${i}`, {}, id.split(' ')[0]);
  return id.split(' ')[0];
}
async function submitDisabled() {
  return page.$eval(`${dialog} [data-submit]`, (b) => b.disabled);
}

// ------------------------------------------------------------ scenarios
const scenarios = {
  async failed_run() {
    await register({ name: 'ingest', steps: [
      exec('fetch', echoJson({ rows: 3 })),
      exec('parse', ['sh', '-c', 'echo "parse: bad token at byte 7" >&2; exit 3'], { needs: ['fetch'] }),
      exec('store', ['true'], { needs: ['parse'] })] });
    const id = await start('ingest', { file: 'orders.csv' });
    await waitStatus(id, 'failed');
    await open('/');
    await waitText('.runs tbody', id.slice(0, 8));
    check((await textOf(`tr[data-run="${id}"]`)).includes('failed'), 'the runs list marks the run failed');
    await clickNow(`tr[data-run="${id}"] td a`);
    await waitText('main h1', 'failed');
    await waitText('#step-details h2', 'parse');
    await waitText('#step-details', 'bad token at byte 7');
    check((await textOf('.step-row[data-step="parse"]')).includes('failed'), 'the timeline row of parse says failed');
    check((await textOf('.step-row[data-step="store"]')).includes('pending'), 'the step after it never ran');
  },

  async replay_as_is() {
    await register({ name: 'report', steps: [exec('count', echoJson({ n: 42 })),
      exec('publish', ['sh', '-c', 'echo \'{"ok": true}\''], { needs: ['count'] })] });
    const id = await start('report', {});
    await waitStatus(id, 'completed');
    await open(`/runs/${id}`);
    await waitText('main h1', 'completed');
    await page.keyboard.press('r');
    await page.waitForSelector(dialog);
    check((await textOf(dialog)).includes('As-is'), 'keyboard r opens the replay dialog, as-is by default');
    await page.click(`${dialog} [data-submit]`);
    const nid = await followToast('Replay submitted — new run: ');
    check(nid !== id, 'the toast names a new run');
    await waitText('main .facts', 'replay');
    await waitText('main h1', 'completed');
    check((await textOf('main .facts')).includes(id.slice(0, 8)), 'the new run names its parent');
    // The API's refusals are shown in the dialog with their message.
    await api('POST', '/v1/workflows/report/pause', { reason: 'release freeze' });
    await open(`/runs/${id}`);
    await waitText('main h1', 'completed');
    await click('#replay-button');
    await page.click(`${dialog} [data-submit]`);
    await waitText(`${dialog} .dialog-error`, '409 conflict');
    await waitText(`${dialog} .dialog-error`, 'paused');
    await page.screenshot({ path: `${SHOTS}/replay_refused.png` });
    check((await api('GET', '/v1/runs?workflow=report')).runs.length === 2, 'a refused replay starts no run');
  },

  async replay_new_model() {
    await register({ name: 'greet', steps: [{ name: 'hello', kind: 'llm',
      with: { model: 'openai:gpt-4o-mini', prompt: 'Greet {{ .input.who }}' } }] });
    const id = await start('greet', { who: 'Ada' });
    await waitStatus(id, 'completed');
    await open(`/runs/${id}`);
    await waitText('#step-details', 'gpt-4o-mini');
    await click('#replay-button');
    await page.waitForSelector(dialog);
    await page.click(`${dialog} input[value="model"]`);
    check(await submitDisabled(), 'new model: submit is disabled until both fields are filled');
    await page.type(`${dialog} input[name="model_id"]`, 'claude-haiku-4-5');
    check(await submitDisabled(), 'still disabled with only the model id');
    await page.type(`${dialog} input[name="provider"]`, 'anthropic');
    check(!(await submitDisabled()), 'enabled with model id and provider');
    await page.click(`${dialog} [data-submit]`);
    await followToast('Replay submitted');
    await waitText('main h1', 'completed');
    await waitText('#step-details', 'claude-haiku-4-5');
    await waitText('#step-details', 'anthropic');
    await waitText('#step-details', 'claude-haiku-4-5 says');
    // The new prompt mode: both artifact and hash are required.
    await click('#replay-button');
    await page.click(`${dialog} input[value="prompt"]`);
    await page.type(`${dialog} input[name="artifact"]`, 'prompt_greet.hello');
    check(await submitDisabled(), 'new prompt: submit disabled without a content hash');
    await page.type(`${dialog} input[name="hash"]`, 'sha256:' + '0'.repeat(64));
    check(!(await submitDisabled()), 'enabled with artifact id and hash');
    const before = (await api('GET', '/v1/runs?workflow=greet')).runs.length;
    await page.click(`${dialog} [data-submit]`);
    await waitText(`${dialog} .dialog-error`, '404 not_found');
    check((await api('GET', '/v1/runs?workflow=greet')).runs.length === before,
      'an unknown prompt hash is an error in the dialog, and no new run');
  },

  async mutation_banner() {
    await register({ name: 'orders', steps: [exec('price', echoJson({ total: 12 })),
      exec('charge', ['sh', '-c', 'echo \'{"charged": 12}\''], { needs: ['price'], mutates: true })] });
    await register({ name: 'refunds', steps: [exec('refund', ['sh', '-c', 'echo \'{"refunded": 1}\''],
      { mutates: true, replay: { allow_mutations: true } })] });
    const id = await start('orders', {});
    const rid = await start('refunds', {});
    await waitStatus(id, 'completed');
    await waitStatus(rid, 'completed');
    await open(`/runs/${id}`);
    await waitText('main h1', 'completed');
    await click('#replay-button');
    const banner = `${dialog} [data-banner]`;
    await waitText(banner, 'DRY-RUN');
    await waitText(banner, 'charge');
    check(!(await page.$eval(banner, (b) => b.classList.contains('banner-danger'))), 'the banner is not red while charge dry-runs');
    await page.click(`${dialog} input[name="allow_mutations"]`);
    await waitText(banner, 'WILL REALLY RUN');
    check(await page.$eval(banner, (b) => b.classList.contains('banner-danger')), 'the banner turns red when allow mutations is checked');
    await page.screenshot({ path: `${SHOTS}/mutation_banner_red.png` });
    await page.click(`${dialog} input[name="allow_mutations"]`);
    await waitText(banner, 'DRY-RUN');
    await page.click(`${dialog} [data-submit]`);
    await followToast('Replay submitted');
    await waitText('main h1', 'completed');
    await page.click('.step-row[data-step="charge"]');
    await waitText('#step-details', 'dry-run');
    // A step whose own policy allows mutations: red without the box.
    await open(`/runs/${rid}`);
    await waitText('main h1', 'completed');
    await click('#replay-button');
    await waitText(banner, 'WILL REALLY RUN');
    check(await page.$eval(banner, (b) => b.classList.contains('banner-danger')), "red when the step's replay policy allows mutations");
    await page.keyboard.press('Escape');
    await open(`/runs/${id}`);
    await waitText('main h1', 'completed');
    await click('#replay-button');
    await waitText(banner, 'DRY-RUN');
  },

  async rename_mapping() {
    await register({ name: 'pipeline', steps: [exec('extract', echoJson({ rows: 5 })),
      exec('load', ['sh', '-c', 'echo \'{"loaded": 5}\''], { needs: ['extract'] })] });
    const id = await start('pipeline', {});
    await waitStatus(id, 'completed');
    await register({ name: 'pipeline', steps: [exec('extract', echoJson({ rows: 5 })),
      exec('load_rows', ['sh', '-c', 'echo \'{"loaded": 5}\''], { needs: ['extract'] })] });
    await open(`/runs/${id}`);
    await waitText('main h1', 'completed');
    await click('#replay-button');
    await page.select(`${dialog} select[name="definition"]`, 'current');
    await waitText(`${dialog} .renames`, '1 renamed step(s) need mapping');
    check(await submitDisabled(), 'replay is disabled until the renamed step is mapped');
    await page.screenshot({ path: `${SHOTS}/rename_alert.png` });
    await page.click('#map-steps');
    await page.waitForFunction(() => document.querySelectorAll('dialog[open]').length === 2);
    const top = 'dialog[open]:last-of-type';
    await page.select(`${top} select[data-old="load"]`, 'load_rows');
    await page.click(`${top} input[value="shared"]`);
    await page.click(`${top} [data-submit]`);
    await waitText(`${dialog} .renames`, 'load → load_rows');
    check(!(await submitDisabled()), 'replay is enabled once mapped');
    await page.click(`${dialog} [data-submit]`);
    await followToast('Replay submitted');
    await waitText('main h1', 'completed');
    check(await page.$('.step-row[data-step="load_rows"]') !== null, 'the new run has the renamed step');
    // Shared: saved, so the next replay applies it by itself.
    await open(`/runs/${id}`);
    await waitText('main h1', 'completed');
    await click('#replay-button');
    await page.select(`${dialog} select[name="definition"]`, 'current');
    await waitText(`${dialog} .renames`, 'A saved mapping is applied: load → load_rows');
    check(!(await submitDisabled()), 'a saved mapping leaves replay enabled');
  },

  async reset_lineage_audit() {
    await register({ name: 'invoice', steps: [exec('load', echoJson({ amount: 7 })),
      exec('render', ['sh', '-c', 'echo \'{"pdf": "x"}\''], { needs: ['load'] }),
      exec('send', ['true'], { needs: ['render'] })] });
    const id = await start('invoice', {});
    await waitStatus(id, 'completed');
    await open(`/runs/${id}`);
    await waitText('main h1', 'completed');
    await page.click('.step-row[data-step="load"]');
    await waitText('#step-details h2', 'load');
    await page.evaluate(() => [...document.querySelectorAll('#step-details button')].find((b) => b.textContent.startsWith('Reset')).click());
    await page.waitForSelector(dialog);
    check(await submitDisabled(), 'reset needs a reason');
    await page.type(`${dialog} input[name="reason"]`, 'the amount was wrong');
    check(!(await submitDisabled()), 'reset is enabled with a reason');
    await page.click(`${dialog} [data-submit]`);
    const nid = await followToast('Reset submitted — new run: ');
    await waitText('main h1', 'completed');
    await page.click('#tab-lineage');
    await waitText('#lineage', 'reset at load — “the amount was wrong”');
    check((await textOf(`#lineage .lineage-node[data-run="${nid}"]`)).includes('current'), 'the reset run is current in lineage');
    await page.click(`#lineage .lineage-node[data-run="${id}"] a`);
    await waitText('main .facts', id);
    await page.click('#tab-audit');
    await waitText('table.audit', 'reset');
    await waitText('table.audit', 'the amount was wrong');
    await open('/audit');
    await waitText('table.audit', 'the amount was wrong');
  },

  async compare() {
    await register({ name: 'calc', steps: [exec('base', echoJson({ base: 10 })),
      exec('scale', ['sh', '-c', 'echo "{\\"v\\": $0}"', '{{ .input.x }}'], { needs: ['base'] }),
      exec('label', echoJson({ label: 'done' }), { needs: ['scale'] })] });
    const a = await start('calc', { x: 1 });
    const b = await start('calc', { x: 2 });
    await waitStatus(a, 'completed');
    await waitStatus(b, 'completed');
    await open(`/runs/${a}`);
    await waitText('main h1', 'completed');
    await click('#compare-link');
    await page.waitForSelector('#compare-with');
    await page.select('#compare-with', b);
    await page.waitForSelector('#steps-diff');
    const changed = await page.$$eval('#steps-diff tbody tr.changed', (rs) => rs.map((r) => r.dataset.step));
    check(JSON.stringify(changed) === '["scale"]', `exactly the changed step is highlighted (got ${JSON.stringify(changed)})`);
    check((await textOf('#steps-diff tr[data-step="scale"]')).includes('changed'), 'the changed row also says "changed"');
    await waitText('#diff', '.x');
  },

  async stale_assets() {
    await register({ name: 'daily', steps: [
      exec('report', ['sh', '-c', 'echo "{\\"rows\\": $0}"', '{{ .input.rows }}'],
        { produces: [{ key: 'reports/{{ .run.partition }}', value: '{{ .output }}' }] })] });
    const startP = async (rows) => (await api('POST', '/v1/runs', { workflow: 'daily', input: { rows }, partition: '2026-12-01' })).run_id;
    const a = await startP(1);
    await waitStatus(a, 'completed');
    const b = await startP(2);
    await waitStatus(b, 'completed');
    // compare: the asset's hash changed, and A's asset is stale now
    await open(`/compare/${a}/${b}`);
    await page.waitForSelector('#assets-diff');
    await waitText('#assets-diff', 'reports/2026-12-01 [2026-12-01]');
    await waitText('#assets-diff', 'changed');
    await waitText('#stale-banner', 'stale now');
    await waitText('#stale-banner', 'superseded by run');
    // the run page marks it; the replay dialog holds the replay back
    await open(`/runs/${a}`);
    await waitText('#run-assets', 'reports/2026-12-01');
    await waitText('#run-assets', 'superseded');
    await click('#replay-button');
    await page.waitForSelector(`${dialog} #stale-banner`);
    await waitText(`${dialog} #stale-banner`, '1 asset(s) this run produced are stale');
    check(await submitDisabled(), 'the replay cannot be submitted onto stale assets as it is');
    await page.click(`${dialog} input[name="allow_stale_assets"]`);
    check(!(await submitDisabled()), 'checking "replay onto stale assets anyway" allows it');
    await page.type(`${dialog} input[name="reason"]`, 'rebuild the old report');
    await page.click(`${dialog} [data-submit]`);
    const id = await followToast('Replay submitted');
    const audit = await api('GET', '/v1/audit?limit=20');
    const rec = audit.records.find((x) => x.new_run_id === id);
    check(rec && rec.detail && rec.detail.allow_stale_assets === true, 'the replay is audited as allowed onto stale assets');
    await waitText('main h1', 'daily');
  },

  async tokens() {
    await register({ name: 'guarded', steps: [exec('only', echoJson({ ok: 1 }))] });
    const id = await start('guarded', {});
    await waitStatus(id, 'completed');
    await open('/');
    await waitText('main .error', '401 unauthenticated');
    await page.evaluate(() => [...document.querySelectorAll('main .error button')].find((b) => b.textContent === 'Enter a token').click());
    await page.waitForSelector('#token-input');
    await page.type('#token-input', TOKEN);
    await page.click('dialog[open] button[value="save"]');
    await waitText(`tr[data-run="${id}"]`, 'completed');
    await clickNow(`tr[data-run="${id}"] td a`);
    await waitText('main h1', 'completed');
    await waitText('#step-details', '"ok":1');
    // Without the token the list was a 401; with it the page reads runs.
    check(await page.evaluate(() => sessionStorage.getItem('cairn.token') !== null), 'the token is kept for the tab');
    // The start (made with the token) is attributed to its name.
    await page.click('#tab-lineage');
    await waitText('#lineage', 'started by ada');
  },

  async live_run() {
    await register({ name: 'approve', steps: [
      { name: 'ask', kind: 'wait', with: { signal: 'approval' } },
      exec('act', ['echo', '{{ .steps.ask.output.by }}'], { needs: ['ask'] })] });
    const id = await start('approve', {});
    await open('/');
    await waitText(`tr[data-run="${id}"]`, 'running');
    await page.evaluate(() => { window.__noReload = true; });
    await open(`/runs/${id}`);
    await waitText('main h1', 'running');
    await waitText('#live', 'live');
    await page.evaluate(() => { window.__noReload = true; });
    await api('POST', `/v1/runs/${id}/signal`, { name: 'approval', data: { by: 'ada' } });
    await waitText('main h1', 'completed');
    await waitText('.step-row[data-step="act"]', 'completed');
    check(await page.evaluate(() => window.__noReload === true), 'the page updated without a reload');
    // The runs list follows too.
    const id2 = await start('approve', {});
    await open('/');
    await waitText(`tr[data-run="${id2}"]`, 'running');
    await page.evaluate(() => { window.__noReload = true; });
    await api('POST', `/v1/runs/${id2}/signal`, { name: 'approval', data: { by: 'bo' } });
    await waitText(`tr[data-run="${id2}"]`, 'completed');
    check(await page.evaluate(() => window.__noReload === true), 'the list updated without a reload');
  },
};

// ------------------------------------------------------------------ main
const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
let failed = false;
try {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--disable-extensions'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`); });
  await run();
  if (errors.length) throw new Error(`FAIL: the page logged errors:\n${errors.join('\n')}`);
  console.log(`PASS ${scenario}`);
} catch (e) {
  failed = true;
  console.error(e.message || e);
  if (errors.length) console.error(errors.join('\n'));
} finally {
  if (page) await page.screenshot({ path: `${SHOTS}/${scenario}.png`, fullPage: true }).catch(() => {});
  if (browser) await browser.close();
}
process.exit(failed ? 1 : 0);
