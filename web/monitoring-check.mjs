// Drives headless Chromium through the monitoring part of /viewer and prints what it saw as
// JSON; `tests/tests/monitoring.rs` judges it. Usage: node monitoring-check.mjs BASE_URL OUT_DIR
// STATION_ID. After the first alerts are read it prints `ready` on stderr and waits for a line
// on stdin (the test then raises another alert) before it looks again; then it prints `after`
// and waits for another line (the test closes every alert) before it looks at the station.
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const [base, out, station] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const errors = [];
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));
await page.goto(`${base}/viewer?layer=monitoring_stations`);
await page.waitForFunction(() => window.bandoMap && document.body.dataset.ready === 'yes', null, { timeout: 30000 });
await page.waitForFunction(() => document.querySelector('#alerts')?.dataset.live === 'yes'
  && document.querySelector('#alerts')?.dataset.count !== undefined, null, { timeout: 15000 });
await page.evaluate(() => new Promise((resolve) => { window.bandoMap.once('idle', resolve); window.bandoMap.triggerRepaint(); }));
const alerts = () => page.$$eval('#alerts li.alert', (items) => items.map((i) => ({
  text: i.textContent, thing: Number(i.dataset.thing), datastream: Number(i.dataset.datastream),
})));
const report = { before: await alerts() };

// The station as drawn: its colour is its status's.
const drawn = await page.evaluate((id) => {
  const map = window.bandoMap;
  const [f] = map.queryRenderedFeatures({ layers: ['monitoring_stations-circle'] }).filter((x) => x.id === id);
  if (!f) return null;
  const box = map.getCanvas().getBoundingClientRect();
  const at = map.project(f.geometry.coordinates);
  return { status: f.properties.status, x: box.left + at.x, y: box.top + at.y,
    colour: map.getPaintProperty('monitoring_stations-circle', 'circle-color') };
}, Number(station));
report.drawn = drawn && { status: drawn.status };
if (drawn) {
  await page.mouse.click(drawn.x, drawn.y);
  await page.waitForSelector('.bando-readings[data-done]', { timeout: 15000 }).catch(() => {});
  report.popup = await page.evaluate(() => {
    const section = document.querySelector('.bando-readings');
    return section && {
      rows: [...section.querySelectorAll('tr')].map((r) => [...r.cells].map((c) => c.textContent)),
      chart: Number(section.querySelector('svg.bando-chart')?.dataset.points ?? 0),
      chartOf: Number(section.querySelector('.chart')?.dataset.datastream ?? 0),
    };
  });
  await page.screenshot({ path: `${out}/monitoring-popup.png` });
}

// Another alert, raised while the page is open, appears in the list by itself.
process.stderr.write('ready\n');
await lines.next();
await page.waitForFunction((n) => Number(document.querySelector('#alerts').dataset.count) > n,
  report.before.length, { timeout: 10000 }).catch(() => {});
report.after = await alerts();

// Every alert closed: the station is drawn within its limits again, from the stream alone.
process.stderr.write('after\n');
await lines.next();
await page.waitForFunction(() => document.querySelector('#alerts').dataset.count === '0', null, { timeout: 10000 })
  .catch(() => {});
report.cleared = await page.evaluate((id) => {
  const map = window.bandoMap;
  const [f] = map.queryRenderedFeatures({ layers: ['monitoring_stations-circle'] }).filter((x) => x.id === id);
  const colour = map.getPaintProperty('monitoring_stations-circle', 'circle-color');
  return f && { state: f.state?.status ?? null, tile: f.properties.status, colour };
}, Number(station));
report.errors = errors;
await page.screenshot({ path: `${out}/monitoring.png` });
await browser.close();
process.stdout.write(JSON.stringify(report));
