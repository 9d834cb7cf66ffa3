// viewer.mjs API RUN_ID [REPEATS] — how fast the run viewer shows a big
// run (bench/viewer.sh makes it): Debian's chromium, headless, opens
// /runs/RUN_ID REPEATS times; each time it measures, from the start of
// navigation (the page's performance.now()), when the first screen is up
// (the header's status and the first timeline rows drawn), then when the
// History tab's first rows are up after a click. Prints the medians as
// one RESULT line.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/viewer/package.json'));
const puppeteer = require('puppeteer-core');

const [api, runId, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 5);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const first = [], hist = [], rows = [];
let bytes = 0, steps = 0;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('response', async (r) => {
    if (r.url().includes(`/v1/runs/${runId}?view=summary`)) bytes = Number(r.headers()['content-length'] || 0);
  });
  for (let i = 0; i < repeats; i++) {
    await page.goto(`${api}/runs/${runId}`, { waitUntil: 'domcontentloaded' });
    // Polled in the page each frame: the first screen is up when the
    // header says the status and timeline rows exist.
    const ms = await page.evaluate(() => new Promise((ok) => {
      const tick = () => {
        const h1 = document.querySelector('main h1');
        if (h1 && /completed|failed/.test(h1.textContent) && document.querySelector('.step-row')) ok(performance.now());
        else requestAnimationFrame(tick);
      };
      tick();
    }));
    first.push(ms);
    rows.push(await page.$$eval('.step-row', (r) => r.length));
    steps = await page.evaluate(() => document.querySelector('.vlist-inner').offsetHeight / 30);
    const hms = await page.evaluate(() => new Promise((ok) => {
      const t0 = performance.now();
      document.querySelector('#tab-history').click();
      const tick = () => {
        if (document.querySelector('.hist-row')) ok(performance.now() - t0);
        else requestAnimationFrame(tick);
      };
      tick();
    }));
    hist.push(hms);
  }
} finally {
  await browser.close();
}
console.log(`first screen ms: ${first.map((x) => x.toFixed(0)).join(' ')}`);
console.log(`history first rows ms: ${hist.map((x) => x.toFixed(0)).join(' ')}`);
console.log(`step rows in the DOM: ${median(rows)} of ${steps}`);
console.log(`RESULT bench=viewer steps=${steps} run_json_bytes=${bytes} first_screen_ms=${median(first).toFixed(0)} history_first_rows_ms=${median(hist).toFixed(0)} dom_rows=${median(rows)} repeats=${repeats}`);
