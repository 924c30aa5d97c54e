// Drives headless Chromium through Bando's map pages and prints what it saw as JSON; the Rust
// test `tests/tests/browser.rs` judges it. Usage: node browser-check.mjs BASE_URL OUT_DIR
// (CHROMIUM names the browser binary; Debian's `chromium` by default).
import http from 'node:http';
import { chromium } from 'playwright-core';

const [base, out] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // No GPU here: WebGL runs on SwiftShader. No sandbox: CI runs as root.
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
});

/**
 * A fresh page that records console errors, Content-Security-Policy violations (reported by the
 * page itself, whether or not the browser also logs them), failed requests and any request to
 * another host.
 */
async function open(path) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const seen = { errors: [], csp: [], foreign: [], failed: [], glyphs: [] };
  await page.exposeFunction('bandoCspViolation', (v) => seen.csp.push(v));
  await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => {
    window.bandoCspViolation(`${e.violatedDirective} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`);
  }));
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin) seen.foreign.push(url);
  });
  page.on('response', (r) => {
    if (r.url().includes('/fonts/')) seen.glyphs.push({ url: decodeURIComponent(r.url()), status: r.status() });
    if (r.status() >= 400) seen.failed.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    // MapLibre cancels the tiles it no longer needs while the map moves.
    const reason = r.failure()?.errorText;
    if (reason !== 'net::ERR_ABORTED') seen.failed.push(`${reason} ${r.url()}`);
  });
  await page.goto(base + path);
  await idle(page);
  return { page, seen };
}

/** Waits until the page has set up its view, then until the map has drawn every tile of it. */
async function idle(page) {
  await page.waitForFunction(() => window.bandoMap && document.body.dataset.ready === 'yes', null, { timeout: 30000 });
  // `idle` fires once nothing is loading, moving or fading; a repaint makes sure it fires again.
  await page.evaluate(() => new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error('the map did not settle within 30 s')), 30000);
    window.bandoMap.once('idle', resolve);
    window.bandoMap.triggerRepaint();
  }));
}

/** Rendered features per Bando layer, and where the map is. */
function view(page) {
  return page.evaluate(() => {
    const map = window.bandoMap;
    const counts = {};
    for (const f of map.queryRenderedFeatures()) {
      const id = f.layer.metadata?.['bando:layer'];
      if (id) counts[id] = (counts[id] ?? 0) + 1;
    }
    const layers = (map.getStyle().metadata?.['bando:layers'] ?? []).map((l) => l.id);
    const c = map.getCenter();
    return { layers, counts, center: [c.lng, c.lat], zoom: map.getZoom() };
  });
}

const popupTitle = (page) => page.evaluate(() => document.querySelector('.maplibregl-popup .bando-popup h3')?.textContent ?? null);

const report = {};

// The viewer: every layer drawn, then a search without diacritics, then a click on a site.
{
  const { page, seen } = await open('/viewer');
  report.viewer = { initial: await view(page) };
  // Icons a symbol layer names that the sprite lacks.
  await page.evaluate(() => {
    window.bandoMissingIcons = [];
    window.bandoMap.on('styleimagemissing', (e) => window.bandoMissingIcons.push(e.id));
  });
  await page.screenshot({ path: `${out}/viewer.png` });

  // The layer list turns a layer off and on; the language switch changes the interface text.
  await page.uncheck('#layer-roads');
  await idle(page);
  report.viewer.roadsOff = (await view(page)).counts.roads ?? 0;
  await page.check('#layer-roads');
  await idle(page);
  report.viewer.roadsOn = (await view(page)).counts.roads ?? 0;
  const placeholder = () => page.getAttribute('#search', 'placeholder');
  // The heritage sites' legend, in the language shown.
  const legend = () => page.$$eval('li[data-layer="heritage_sites"] .legend li', (items) => items.map((i) => i.textContent));
  report.viewer.languages = [await placeholder()];
  report.viewer.legends = [await legend()];
  await page.click('button.lang');
  report.viewer.languages.push(await placeholder());
  report.viewer.legends.push(await legend());
  await page.click('button.lang');

  await page.fill('#search', 'den tho');
  await page.press('#search', 'Enter');
  await page.waitForSelector('.maplibregl-popup', { timeout: 30000 });
  await idle(page);
  report.viewer.search = {
    results: await page.$$eval('#results li b', (items) => items.map((i) => i.textContent)),
    popup: await popupTitle(page),
    ...(await view(page)),
  };
  await page.screenshot({ path: `${out}/viewer-search.png` });
  // Near the site found, the heritage pictograms are drawn from the sprite; the legend shows them.
  report.viewer.icons = await page.evaluate(() => {
    const map = window.bandoMap;
    const legend = [...document.querySelectorAll('.legend .swatch.icon')].map((s) => s.dataset.icon);
    return {
      drawn: map.queryRenderedFeatures({ layers: ['heritage_sites-icon'] }).length,
      legend,
      inSprite: legend.filter((id) => map.hasImage(id)),
      missing: window.bandoMissingIcons,
      sheetLoaded: performance.getEntriesByName(new URL('/assets/sprite@2x.png', location.href).href).length > 0,
    };
  });

  // Close the search popup, then click the site drawn nearest the middle of the map.
  await page.click('.maplibregl-popup-close-button');
  const target = await page.evaluate(() => {
    const map = window.bandoMap;
    const box = map.getCanvas().getBoundingClientRect();
    const middle = { x: box.width / 2, y: box.height / 2 };
    const sites = map.queryRenderedFeatures({ layers: ['heritage_sites-circle'] })
      .map((f) => ({ id: f.id, name: f.properties.name, at: map.project(f.geometry.coordinates) }))
      .sort((a, b) => Math.hypot(a.at.x - middle.x, a.at.y - middle.y) - Math.hypot(b.at.x - middle.x, b.at.y - middle.y));
    return sites[0] && { id: sites[0].id, name: sites[0].name, x: box.left + sites[0].at.x, y: box.top + sites[0].at.y };
  });
  if (target) {
    await page.mouse.click(target.x, target.y);
    await page.waitForSelector('.maplibregl-popup', { timeout: 10000 }).catch(() => {});
  }
  report.viewer.click = {
    target: target?.name ?? null,
    id: target?.id ?? null,
    popup: await popupTitle(page),
    // Each row of the popup's own table: the property it shows, then its two cells.
    rows: await page.$$eval('.maplibregl-popup .bando-popup > table tr',
      (rows) => rows.map((r) => [r.dataset.property, ...[...r.cells].map((c) => c.textContent)])),
  };
  // The site's popup lists the point features nearest the click.
  await page.waitForSelector('.bando-nearest[data-done]', { timeout: 10000 }).catch(() => {});
  await page.screenshot({ path: `${out}/viewer-popup.png` });
  report.viewer.nearest = await page.evaluate(() => {
    const section = document.querySelector('.bando-nearest');
    return section && {
      at: section.dataset.at.split(',').map(Number),
      layers: section.dataset.layers.split(','),
      except: section.dataset.except ?? null,
      items: [...section.querySelectorAll('li')].map((li) => ({
        layer: li.dataset.layer, id: Number(li.dataset.id), metres: Number(li.dataset.metres),
      })),
    };
  });
  report.viewer.seen = seen;
  await page.close();
}

// With an API key typed into the viewer, the map shows the layers of the key's role.
if (process.env.KEY) {
  const { page, seen } = await open('/viewer');
  await page.fill('#api-key', process.env.KEY);
  await Promise.all([page.waitForNavigation(), page.click('form.key button')]);
  await idle(page);
  report.viewer_with_key = { ...(await view(page)), seen };
  await page.close();
}

// The embeddable heritage map, whole and focused on one site.
for (const [name, path] of [['embed', '/embed/heritage_sites'], ['embed_feature', `/embed/heritage_sites?feature=${process.env.FEATURE ?? 6}&zoom=15`]]) {
  const { page, seen } = await open(path);
  report[name] = { ...(await view(page)), popup: await popupTitle(page), seen };
  await page.screenshot({ path: `${out}/${name}.png` });
  await page.close();
}

// Framing follows `frame-ancestors`. The host pages are made up here: one on Bando's own origin,
// one served by this script on another port of this machine (a real server, not a routed
// page: Chromium treats a routed page as public and would refuse it for that reason alone).
const hostPage = `<!doctype html><iframe src="${base}/embed/heritage_sites" width="800" height="500"></iframe>`;
const other = http.createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(hostPage));
await new Promise((resolve) => other.listen(0, '127.0.0.1', resolve));
for (const [name, host] of [['framed_by_self', origin], ['framed_by_other', `http://127.0.0.1:${other.address().port}`]]) {
  const page = await browser.newPage();
  await page.route(`${origin}/host.html`, (route) => route.fulfill({ contentType: 'text/html', body: hostPage }));
  await page.goto(`${host}/host.html`);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  // Chromium replaces a frame it refuses with its own error page.
  const refused = !frame || frame.url().startsWith('chrome-error:');
  const ready = !refused && await frame.waitForFunction(() => document.body?.dataset.ready === 'yes', null, { timeout: 30000 })
    .then(() => true, () => false);
  report[name] = { frame: frame?.url() ?? null, ready, refused };
  await page.close();
}
other.close();

await browser.close();
console.log(JSON.stringify(report, null, 1));
