// Drives headless Chromium through the operator's page and prints what it saw as JSON; the Rust
// test `tests/tests/admin.rs` judges it. Usage: node admin-check.mjs BASE_URL, with KEY (an admin
// key), AGENCY (another role's key), FILE (a GeoJSON to import as LAYER) and BIG (a file over
// the upload limit) in the environment.
import { chromium } from 'playwright-core';

const [base] = process.argv.slice(2);
const { KEY, AGENCY, FILE, LAYER, BIG } = process.env;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
const report = { errors: [] };
page.on('pageerror', (e) => report.errors.push(String(e)));
// The refusals this script provokes are logged by the browser as failed loads: not errors.
page.on('console', (m) => {
  if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) report.errors.push(m.text());
});

const rows = () => page.$$eval('#layers tr[data-layer]', (trs) => trs.map((tr) => tr.dataset.layer));
const message = () => page.textContent('#message');
/** Whether an anonymous caller sees the layer, within 5 s of the change. */
async function anonymousSees(expected) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const seen = (await fetch(`${base}/collections/${LAYER}`)).status === 200;
    if (seen === expected || Date.now() > deadline) return seen;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
async function useKey(key) {
  await page.fill('#admin-key', key);
  await page.click('form.key button');
}

await page.goto(`${base}/admin`);
await page.waitForFunction(() => document.body.dataset.ready === 'yes');
report.anonymous = { rows: await rows(), message: await message() };

// Another role's key: the page stays empty.
await useKey(AGENCY);
await page.waitForFunction(() => document.getElementById('message')?.textContent.includes('agency'));
report.agency = { rows: await rows(), message: await message() };

// The admin's key: every layer.
await useKey(KEY);
await page.waitForSelector('#layers tr[data-layer]');
report.admin = { rows: await rows() };

// An import from the browser: progress, then the report, then the layer and its preview.
await page.setInputFiles('#file', FILE);
// The file is surveyed: its one layer is proposed, with the CRS a GeoJSON file is read in.
await page.waitForSelector('#source-layer option', { state: 'attached' });
report.proposed = await page.evaluate(() => ({
  layers: [...document.querySelectorAll('#source-layer option')].map((o) => o.value),
  crs: document.getElementById('crs').value,
}));
await page.fill('#target', LAYER);
await page.click('form.import button[type=submit]');
await page.waitForSelector('#job[data-phase=done], #job[data-phase=failed]', { timeout: 60000 });
report.job = await page.evaluate(() => ({
  phase: document.getElementById('job').dataset.phase,
  progress: document.getElementById('progress')?.textContent,
  report: { ...(document.getElementById('report')?.dataset ?? {}) },
}));
await page.waitForSelector(`#layers tr[data-layer="${LAYER}"]`, { timeout: 15000 }).catch(() => {});
report.listed = (await rows()).includes(LAYER);
await page.waitForSelector('#preview[data-ready=yes]', { timeout: 30000 }).catch(() => {});
report.preview = await page.evaluate((layer) => {
  const map = window.bandoMap;
  return map ? map.queryRenderedFeatures().filter((f) => f.layer.metadata?.['bando:layer'] === layer).length : 0;
}, LAYER);
await page.screenshot({ path: 'target/browser-artifacts/admin.png' });

// The access level, changed on the page: public, then internal again.
report.access = {};
for (const level of ['public', 'internal']) {
  const row = `#layers tr[data-layer="${LAYER}"]`;
  await page.selectOption(`${row} select.access`, level);
  await page.fill(`${row} textarea.description`, `Di tích mới (${level})`);
  await page.click(`${row} button.save`);
  await page.waitForFunction((id) => document.getElementById('message').textContent.startsWith(id), LAYER);
  report.access[level] = await anonymousSees(level === 'public');
}

// A file over the limit is refused with the reason.
await page.setInputFiles('#file', BIG);
await page.waitForFunction(() => /MiB/.test(document.getElementById('message')?.textContent ?? ''), null, { timeout: 30000 })
  .catch(() => {});
report.tooBig = await message();

await browser.close();
console.log(JSON.stringify(report));
