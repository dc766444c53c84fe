// The page end to end in headless Chromium (Debian's, driven by
// playwright-core): on a copy of the example tree, the table shows its
// runs, a --where filter narrows them, a click sorts them, the parallel
// coordinates draw one line per run, a brush narrows the table, and a
// run's curves have the points its metrics API gives.
//
// Usage: node e2e.mjs RUNREG_BIN CACHE_DIR SCREENSHOT_DIR [--perf]
// (run.sh prepares all three). With --perf, only the time from navigation
// to the first row of the table is measured, five times.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(process.env.PLAYWRIGHT_DIR ? join(process.env.PLAYWRIGHT_DIR, 'x.js') : import.meta.url);
const { chromium } = require('playwright-core');

const [bin, cacheDir, shots] = process.argv.slice(2);
const perf = process.argv.includes('--perf');
mkdirSync(shots, { recursive: true });

let failures = 0;
function check(ok, what, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail === undefined ? '' : ': ' + detail}`);
  if (!ok) failures++;
}

function runreg(...args) {
  return execFileSync(bin, ['--cache-dir', cacheDir, ...args], { encoding: 'utf8' });
}

function ls(where) {
  return JSON.parse(runreg('ls', '--where', where, '--json', '-n', '100000'));
}

async function startUi() {
  const child = spawn(bin, ['--cache-dir', cacheDir, 'ui', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve(line.trim());
    });
    child.on('exit', (code) => reject(new Error('runreg ui exited with ' + code)));
    setTimeout(() => reject(new Error('no URL printed within 120 s')), 120000);
  });
  return { child, url };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
const { child, url } = await startUi();
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
const page = await context.newPage();
page.on('pageerror', (e) => check(false, 'no script error', e.message));
page.on('console', (m) => { if (m.type() === 'error') console.log('console:', m.text()); });

try {
  if (perf) {
    const times = [];
    for (let i = 0; i < 5; i++) {
      // Each load starts on an idle server: the previous page's sweep
      // (up to 20,000 runs) is done by then.
      await page.goto('about:blank');
      await new Promise((r) => setTimeout(r, 4000));
      const calls = [];
      const log = (r) => calls.push(`${new URL(r.url()).pathname} ${Math.round(r.timing().responseEnd)} ms`);
      page.on('requestfinished', log);
      const t0 = Date.now();
      await page.goto(url);
      await page.waitForSelector('#runs-table tbody tr.run-row', { timeout: 30000 });
      times.push(Date.now() - t0);
      page.off('requestfinished', log);
      console.log(`load ${i + 1}: first row after ${times.at(-1)} ms; ${calls.join(', ')}`);
    }
    times.sort((a, b) => a - b);
    const total = await page.textContent('#runs-total');
    console.log(`first row of the table, ${total} runs: median ${times[2]} ms (${times.join(', ')})`);
    // Scroll to the middle: rows come, and only those in view are in the DOM.
    const t0 = Date.now();
    await page.$eval('#runs-scroll', (s) => { s.scrollTop = s.scrollHeight / 2; });
    await page.waitForFunction(() => !document.querySelector('#runs-body tr.loading') && document.querySelectorAll('#runs-body tr.run-row').length > 0);
    const rows = await page.$$eval('#runs-body tr.run-row', (r) => r.length);
    console.log(`scrolled to the middle: rows drawn in ${Date.now() - t0} ms, ${rows} rows in the DOM`);
    await page.screenshot({ path: join(shots, 'perf.png') });
  } else {
    // The table: every run.
    const t0 = Date.now();
    await page.goto(url);
    await page.waitForSelector('#runs-table tbody tr.run-row');
    console.log(`first row after ${Date.now() - t0} ms`);
    const all = ls('run_id ~ "*"').length;
    await page.waitForFunction((n) => document.querySelector('#runs-total').textContent === String(n), all);
    check(await page.textContent('#runs-total') === String(all), 'the table counts every run', all);
    const rows = await page.$$eval('#runs-table tbody tr.run-row', (r) => r.length);
    check(rows === all, 'every run has a row', rows);
    await page.waitForSelector('#parcoords path.run-line');
    const lines = await page.$$eval('#parcoords path.run-line', (p) => p.length);
    check(lines === all, 'parallel coordinates: one line per run', lines);
    await page.screenshot({ path: join(shots, 'table-and-sweep.png'), fullPage: true });

    // A --where filter narrows the table to what runreg ls finds.
    const where = 'summary.val_acc > 0.9';
    const expected = ls(where);
    await page.fill('#where', where);
    await page.press('#where', 'Enter');
    await page.waitForFunction((n) => document.querySelector('#runs-total').textContent === String(n)
      && document.querySelectorAll('#runs-table tbody tr.run-row').length === n, expected.length, { timeout: 10000 }).catch(() => {});
    const shown = await page.$$eval('#runs-table tbody tr.run-row', (r) => r.map((x) => x.dataset.runId));
    check(shown.length === expected.length && expected.length < all, `--where ${where} narrows the table`, `${shown.length} rows, runreg ls: ${expected.length}`);
    check(expected.every((r) => shown.includes(r.run_id)), 'the same runs as runreg ls');

    // A click on a header sorts: the first row holds the largest value.
    await page.click('#runs-table th[data-field="summary.val_acc"]');
    await page.waitForFunction(() => document.querySelector('#runs-table th[data-field="summary.val_acc"] .arrow'));
    await page.waitForTimeout(300);
    const best = expected.reduce((a, b) => (a.summary.val_acc >= b.summary.val_acc ? a : b));
    const first = await page.$eval('#runs-table tbody tr.run-row', (r) => r.dataset.runId);
    check(first === best.run_id, 'a header click sorts: the best run first', `${first}, expected ${best.run_id}`);
    await page.click('#runs-table th[data-field="summary.val_acc"]');
    await page.waitForTimeout(300);
    const worst = expected.reduce((a, b) => (a.summary.val_acc <= b.summary.val_acc ? a : b));
    const firstAsc = await page.$eval('#runs-table tbody tr.run-row', (r) => r.dataset.runId);
    check(firstAsc === worst.run_id, 'a second click reverses it', `${firstAsc}, expected ${worst.run_id}`);
    await page.click('#runs-table th[data-field="created_at"]', { modifiers: ['Shift'] });
    await page.waitForTimeout(200);
    const sortInfo = await page.textContent('#sort-info');
    check(sortInfo.includes('summary.val_acc') && sortInfo.includes('created_at'), 'shift-click adds a sort key', sortInfo);

    // A bad expression: the caret message, and the table stays.
    await page.fill('#where', 'summary.val_acc >');
    await page.press('#where', 'Enter');
    await page.waitForSelector('#where-error:not([hidden])');
    const error = await page.textContent('#where-error');
    check(error.includes('^') && error.includes('summary.val_acc >'), 'a bad filter shows its caret', JSON.stringify(error));
    check(await page.textContent('#runs-total') === String(expected.length), 'and the table stays');

    // The sweep view over a sweep: one line per run; a brush narrows the table.
    const sweepWhere = "tags has 'sweep:1002'";
    const sweepRuns = ls(sweepWhere);
    await page.fill('#where', sweepWhere);
    await page.press('#where', 'Enter');
    await page.waitForFunction((n) => document.querySelector('#runs-total').textContent === String(n), sweepRuns.length);
    await page.waitForFunction((n) => document.querySelectorAll('#parcoords path.run-line').length === n, sweepRuns.length, { timeout: 10000 }).catch(() => {});
    const sweepLines = await page.$$eval('#parcoords path.run-line', (p) => p.length);
    check(sweepLines === sweepRuns.length, 'parallel coordinates of the sweep: one line per run', `${sweepLines} of ${sweepRuns.length}`);
    const axes = await page.$$eval('#parcoords rect.brush-target', (r) => r.map((x) => x.dataset.axis));
    check(axes.length >= 2 && axes.at(-1).startsWith('summary.'), 'axes: the varying hparams, then the metric', axes.join(' '));
    const dots = await page.$$eval('#scatter circle.run-dot', (c) => c.length);
    check(dots > 0 && dots <= sweepRuns.length, 'the scatter has a dot per run with values', dots);
    await page.screenshot({ path: join(shots, 'sweep.png'), fullPage: true });

    // Brush the top half of the metric axis.
    const target = await page.$(`#parcoords rect.brush-target[data-axis="${axes.at(-1)}"]`);
    const box = await target.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.4, { steps: 5 });
    await page.mouse.up();
    await page.waitForSelector('#brushes .chip');
    await page.waitForTimeout(500);
    const kept = await page.$$eval('#parcoords path.run-line:not(.dim)', (p) => p.map((x) => x.dataset.runId));
    const narrowed = await page.$$eval('#runs-table tbody tr.run-row', (r) => r.map((x) => x.dataset.runId));
    check(kept.length > 0 && kept.length < sweepRuns.length, 'the brush keeps some lines', `${kept.length} of ${sweepRuns.length}`);
    check(narrowed.length === kept.length && kept.every((id) => narrowed.includes(id)), 'the brush narrows the table to its lines', `${narrowed.length} rows, ${kept.length} lines`);
    await page.screenshot({ path: join(shots, 'brushed.png'), fullPage: true });

    // The run view: a run's curves have the points its metrics API gives.
    const runId = narrowed[0];
    await page.click(`#runs-table tr.run-row[data-run-id="${runId}"] td.id`);
    await page.waitForSelector('#curves polyline.curve');
    const api = await page.evaluate(async (id) => {
      const token = new URLSearchParams(location.search).get('token');
      const res = await fetch(`api/run/${encodeURIComponent(id)}/metrics?points=500`, { headers: { 'X-Runreg-Token': token } });
      return res.json();
    }, runId);
    const curves = await page.$$eval('#curves polyline.curve:not(.raw)', (p) => p.map((x) => ({ metric: x.dataset.metric, points: x.getAttribute('points').trim().split(/\s+/).length })));
    const finite = (s) => s.points.filter((p) => typeof p.value === 'number').length;
    const wanted = api.series.filter((s) => finite(s) > 0);
    check(curves.length === wanted.length && curves.length > 0, 'one curve per metric', `${curves.length} curves, ${wanted.length} series`);
    for (const s of wanted) {
      const c = curves.find((x) => x.metric === s.name);
      check(c && c.points === finite(s), `curve ${s.name} has its points`, `${c && c.points} drawn, ${finite(s)} in the API`);
    }
    const details = await page.textContent('#run-details');
    check(details.includes(runId) && details.includes('hparams'), 'the run view shows the run');

    // Several runs: curves overlaid, smoothing, and their diff.
    // Locators, not handles: a redraw of the rows may replace them.
    const tick = (id) => page.locator(`#runs-table tr.run-row[data-run-id="${id}"] input[type=checkbox]`);
    await tick(narrowed[0]).check();
    await tick(narrowed[1]).check();
    await page.waitForSelector('#diff-table');
    await page.waitForTimeout(300);
    const overlaid = await page.$$eval('#curves svg.curve-chart', (charts) => Math.max(...charts.map((c) => new Set([...c.querySelectorAll('polyline.curve:not(.raw)')].map((p) => p.dataset.runId)).size)));
    check(overlaid >= 2, 'selected runs overlay their curves', overlaid);
    const diffRows = await page.$$eval('#diff-table tr[data-key]', (r) => r.length);
    check(diffRows > 0, 'the diff of the selected runs', `${diffRows} differing keys`);
    await page.$eval('#smoothing', (s) => { s.value = '0.6'; s.dispatchEvent(new Event('input')); });
    const raw = await page.$$eval('#curves polyline.curve.raw', (p) => p.length);
    check(raw > 0, 'smoothing draws the smoothed curve over the raw one', raw);
    await page.screenshot({ path: join(shots, 'compare.png'), fullPage: true });

    // The README's picture: a fresh page filtered to the sweep.
    await page.goto(url + '&where=' + encodeURIComponent(sweepWhere));
    await page.waitForFunction((n) => document.querySelectorAll('#parcoords path.run-line').length === n, sweepRuns.length);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, 'readme.png') });

    // The page refuses to work without its token.
    const bare = url.split('?')[0];
    const refused = await context.request.get(bare + 'api/runs');
    check(refused.status() === 403, 'an API call without the token is refused', refused.status());
  }
} finally {
  await browser.close();
  child.kill();
}
if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('all browser checks passed');
