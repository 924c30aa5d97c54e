// /admin: the operator's page. With an admin key (typed here, kept for this tab, sent only to
// this server): every layer with its access level, size, extent and last import, the imported
// ones changeable; an import from a file, followed to its report and shown on a preview map; the
// change feed and the database. Without one, the page shows nothing but the key form.
import { apiKey, createMap, language, languageButton } from '/assets/common.mjs';

const TEXT = {
  vi: {
    title: 'Quản trị Bando', key: 'Khóa quản trị', use: 'Dùng', language: 'English', layers: 'Các lớp',
    id: 'Mã', name: 'Tên lớp', access: 'Truy cập', features: 'Đối tượng', extent: 'Phạm vi', last: 'Lần nhập gần nhất',
    save: 'Lưu', saved: 'Đã lưu', fromConfig: 'theo tệp cấu hình', import: 'Nhập dữ liệu', file: 'Tệp',
    target: 'Lớp đích (mới hoặc có sẵn)', mode: 'Cách nhập', replace: 'Thay thế', append: 'Thêm vào',
    sourceLayer: 'Lớp trong tệp (nếu nhiều lớp)', crs: 'Hệ tọa độ (EPSG, nếu tệp không ghi)', start: 'Nhập',
    read: 'Đã đọc', rows: 'dòng', written: 'Đã ghi', repaired: 'Đã sửa hình học', duplicates: 'Trùng lặp đã bỏ',
    rejected: 'Bị loại', failed: 'Nhập không thành công', health: 'Tình trạng', feed: 'Dòng thay đổi',
    database: 'Cơ sở dữ liệu', needKey: 'Cần khóa của vai trò admin.', lastChange: 'Thay đổi mới nhất',
    replica: 'Máy chủ', seen: 'Báo cách đây', behind: 'Chưa áp dụng', lag: 'Trễ', changes: 'thay đổi', ago: 'trước',
    reading: 'đang đọc tệp', writing: 'đang sửa, lọc trùng và ghi', committing: 'đang hoàn tất',
  },
  en: {
    title: 'Bando administration', key: 'Admin key', use: 'Use', language: 'Tiếng Việt', layers: 'Layers',
    id: 'Id', name: 'Title', access: 'Access', features: 'Features', extent: 'Extent', last: 'Last import',
    save: 'Save', saved: 'Saved', fromConfig: 'set in the configuration file', import: 'Import', file: 'File',
    target: 'Target layer (new or existing)', mode: 'Mode', replace: 'Replace', append: 'Append',
    sourceLayer: 'Layer of the file (when it has several)', crs: 'CRS (EPSG, when the file has none)', start: 'Import',
    read: 'Read', rows: 'rows', written: 'Written', repaired: 'Geometries repaired', duplicates: 'Duplicates removed',
    rejected: 'Rejected', failed: 'The import failed', health: 'Health', feed: 'Change feed',
    database: 'Database', needKey: 'An admin key is needed.', lastChange: 'Last change',
    replica: 'Replica', seen: 'Reported', behind: 'Not applied', lag: 'Lag', changes: 'changes', ago: 'ago',
    reading: 'reading the file', writing: 'repairing, removing duplicates, writing', committing: 'committing',
  },
};
let lang = language();
const t = (k) => TEXT[lang][k];
const root = document.getElementById('admin');
let status = null;
let message = '';
let job = null;

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** A request to this server with the key: its status and its JSON (a problem's too). */
async function call(url, options = {}) {
  const key = apiKey();
  const headers = { ...(key ? { 'X-API-Key': key } : {}), ...(options.headers ?? {}) };
  const response = await fetch(url, { ...options, headers });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  return { status: response.status, body };
}

const problem = (r) => r.body?.detail ?? r.body?.title ?? `HTTP ${r.status}`;

let loads = 0;

async function load() {
  const mine = ++loads;
  const r = await call('/admin/status');
  // An answer to an earlier key, arriving late, changes nothing.
  if (mine !== loads) return;
  if (r.status === 200) {
    status = r.body;
  } else {
    status = null;
    message = r.status === 401 || r.status === 403 ? `${t('needKey')} ${problem(r)}` : problem(r);
  }
  render();
}

function keyForm() {
  const input = el('input', { type: 'password', id: 'admin-key', value: apiKey() });
  const form = el('form', { className: 'key' }, el('label', { htmlFor: 'admin-key' }, t('key')), input,
    el('button', { type: 'submit' }, t('use')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem('bando-key', input.value);
    message = '';
    // The health section is read again every two seconds, and only it is redrawn, so that a form
// being filled in is left alone.
setInterval(async () => {
  if (!status || document.hidden) return;
  const mine = loads;
  const r = await call('/admin/status');
  if (mine !== loads || r.status !== 200 || !status) return;
  Object.assign(status, { feed: r.body.feed, database: r.body.database });
  document.getElementById('health')?.replaceWith(health());
}, 2000);

load();
  });
  return form;
}

function layerRow(l) {
  const row = el('tr');
  row.dataset.layer = l.id;
  const last = l.lastImport ? `${l.lastImport.finished_at?.slice(0, 16) ?? ''} · ${l.lastImport.status} · ${l.lastImport.rows_written}` : '';
  const extent = l.extent ? l.extent.map((v) => v.toFixed(3)).join(', ') : '';
  if (!l.editable) {
    row.append(el('td', {}, l.id), el('td', {}, l.title), el('td', {}, l.access), el('td', {}, String(l.features)),
      el('td', {}, extent), el('td', {}, last), el('td', { className: 'muted' }, t('fromConfig')));
    return row;
  }
  const title = el('input', { value: l.title, className: 'title' });
  const description = el('textarea', { value: l.description, className: 'description', rows: 2 });
  const access = el('select', { className: 'access' },
    ...['public', 'internal', 'restricted'].map((a) => el('option', { value: a, selected: a === l.access }, a)));
  const save = el('button', { type: 'button', className: 'save' }, t('save'));
  save.addEventListener('click', async () => {
    const r = await call(`/admin/layers/${l.id}`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: title.value, description: description.value, access: access.value }),
    });
    message = r.status === 204 ? `${l.id}: ${t('saved')}` : problem(r);
    await // The health section is read again every two seconds, and only it is redrawn, so that a form
// being filled in is left alone.
setInterval(async () => {
  if (!status || document.hidden) return;
  const mine = loads;
  const r = await call('/admin/status');
  if (mine !== loads || r.status !== 200 || !status) return;
  Object.assign(status, { feed: r.body.feed, database: r.body.database });
  document.getElementById('health')?.replaceWith(health());
}, 2000);

load();
  });
  row.append(el('td', {}, l.id), el('td', {}, title, description), el('td', {}, access), el('td', {}, String(l.features)),
    el('td', {}, extent), el('td', {}, last), el('td', {}, save));
  return row;
}

// The file uploaded and surveyed, waiting for the operator's choices, and the layer typed.
let uploaded = null;
let target = '';

/** Uploads the file chosen; the server answers the layers it holds, with their CRS. */
async function survey(chosen) {
  message = '';
  const r = await call(`/admin/uploads?file=${encodeURIComponent(chosen.name)}`, {
    method: 'POST', body: chosen, headers: { 'Content-Type': 'application/octet-stream' },
  });
  uploaded = r.status === 201 ? r.body : null;
  if (!uploaded) message = problem(r);
  render();
}

function importForm() {
  const file = el('input', { type: 'file', id: 'file', accept: '.zip,.gpkg,.geojson,.json,.kml,.csv' });
  file.addEventListener('change', () => { if (file.files[0]) survey(file.files[0]); });
  const field = (label, input) => el('label', {}, label, input);
  const form = el('form', { className: 'import' }, field(t('file'), file));
  if (!uploaded) return form;
  const layer = el('input', { id: 'target', required: true, pattern: '[a-z][a-z0-9_]*', value: target });
  layer.setAttribute('list', 'layer-ids');
  layer.addEventListener('input', () => { target = layer.value; });
  const ids = el('datalist', { id: 'layer-ids' }, ...(status?.layers ?? []).filter((l) => l.editable)
    .map((l) => el('option', { value: l.id })));
  const mode = el('select', { id: 'mode' }, el('option', { value: 'replace' }, t('replace')), el('option', { value: 'append' }, t('append')));
  // What the file holds, proposed: its layers with their sizes, and the CRS each declares.
  const sourceLayer = el('select', { id: 'source-layer' }, ...uploaded.layers.map((l) => el('option', { value: l.name },
    `${l.name} · ${l.features ?? '?'} · ${l.srid ? `EPSG:${l.srid}` : '?'}`)));
  const crs = el('input', { id: 'crs', placeholder: 'EPSG:9210' });
  const propose = () => {
    const chosen = uploaded.layers.find((l) => l.name === sourceLayer.value);
    crs.value = chosen?.srid ? `EPSG:${chosen.srid}` : '';
  };
  sourceLayer.addEventListener('change', propose);
  propose();
  form.append(el('p', { id: 'uploaded' }, uploaded.file), field(t('target'), layer), ids, field(t('mode'), mode),
    field(t('sourceLayer'), sourceLayer), field(t('crs'), crs), el('button', { type: 'submit' }, t('start')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ upload: uploaded.id, layer: layer.value, mode: mode.value, source_layer: sourceLayer.value });
    if (crs.value) q.set('crs', crs.value);
    message = '';
    const r = await call(`/admin/imports?${q}`, { method: 'POST' });
    uploaded = null;
    if (r.status !== 202) {
      message = problem(r);
      render();
      return;
    }
    job = r.body;
    render();
    follow(job.id);
  });
  return form;
}

/** Polls an import until it ends, then shows the layer once the server serves it. */
async function follow(id) {
  for (;;) {
    const r = await call(`/admin/imports/${id}`);
    if (r.status !== 200) { message = problem(r); break; }
    job = r.body;
    render();
    if (job.phase !== 'importing') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (job?.phase !== 'done') return;
  // The change feed brings the new layer in within a second or so.
  for (let i = 0; i < 40 && !status?.layers.some((l) => l.id === job.layer && l.features > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    await // The health section is read again every two seconds, and only it is redrawn, so that a form
// being filled in is left alone.
setInterval(async () => {
  if (!status || document.hidden) return;
  const mine = loads;
  const r = await call('/admin/status');
  if (mine !== loads || r.status !== 200 || !status) return;
  Object.assign(status, { feed: r.body.feed, database: r.body.database });
  document.getElementById('health')?.replaceWith(health());
}, 2000);

load();
  }
  preview(job.layer);
}

function jobView() {
  if (!job) return el('div');
  const box = el('section', { id: 'job' });
  box.dataset.phase = job.phase;
  const stage = job.phase === 'importing' ? ` · ${t(job.stage)}` : '';
  box.append(el('p', { id: 'progress' }, `${job.file} → ${job.layer}: ${t('read')} ${job.rowsRead} ${t('rows')}${stage}`));
  if (job.phase === 'failed') box.append(el('p', { className: 'error' }, `${t('failed')}: ${job.error}`));
  if (job.phase === 'done') {
    const r = job.report;
    const report = el('dl', { id: 'report' },
      el('dt', {}, t('written')), el('dd', {}, String(r.rowsWritten)),
      el('dt', {}, t('repaired')), el('dd', {}, String(r.repaired)),
      el('dt', {}, t('duplicates')), el('dd', {}, String(r.duplicatesRemoved)),
      el('dt', {}, t('rejected')), el('dd', {}, String(Object.values(r.rejected).reduce((a, b) => a + b, 0))));
    Object.assign(report.dataset, { rowsRead: r.rowsRead, rowsWritten: r.rowsWritten, duplicates: r.duplicatesRemoved });
    box.append(report, el('pre', {}, r.summary));
  }
  return box;
}

let previewed = null;

/** The imported layer on a map of its own style. */
function preview(layer) {
  const container = document.getElementById('preview');
  if (!container || previewed === layer) return;
  previewed = layer;
  const map = createMap(container, `/styles/${layer}.json`);
  map.once('load', () => {
    const style = map.getStyle();
    if (style.metadata?.['bando:bounds']) map.fitBounds(style.metadata['bando:bounds'], { padding: 20, animate: false });
    map.once('idle', () => { container.dataset.layer = layer; container.dataset.ready = 'yes'; });
  });
}

// The feed as this server follows it, then every replica's place in the log as each reports it.
function health() {
  const feed = status.feed;
  const db = status.database;
  const seconds = (s) => `${s.toFixed(1)} s`;
  const last = feed?.last ? `#${feed.last.sequence}, ${seconds(feed.last.ageSeconds)} ${t('ago')}` : '–';
  const parts = [el('h2', {}, t('health')),
    el('p', {}, `${t('feed')}: ${feed ? `#${feed.sequence ?? '–'}, ${feed.applied} · ${seconds(feed.caughtUpSecondsAgo)}` : '–'}`),
    el('p', {}, `${t('lastChange')}: ${last}`)];
  if (feed?.replicas?.length) {
    const head = el('tr', {}, ...['replica', 'seen', 'behind', 'lag'].map((k) => el('th', {}, t(k))));
    const rows = feed.replicas.map((r) => {
      const row = el('tr', {}, el('td', {}, r.name), el('td', {}, `${seconds(r.seenSecondsAgo)} ${t('ago')}`),
        el('td', {}, `${r.behind} ${t('changes')}`), el('td', {}, seconds(r.lagSeconds)));
      Object.assign(row.dataset, { replica: r.name, behind: r.behind });
      return row;
    });
    parts.push(el('table', { id: 'replicas' }, head, ...rows));
  }
  parts.push(el('p', {}, `${t('database')}: ${db ? (db.ok ? `ok, ${db.milliseconds.toFixed(1)} ms` : db.error) : '–'}`));
  return el('section', { id: 'health' }, ...parts);
}

function render() {
  document.documentElement.lang = lang;
  const switcher = languageButton(t('language'), (chosen) => {
    lang = chosen;
    render();
  });
  const parts = [el('header', {}, el('h1', {}, t('title')), switcher), keyForm(), el('p', { id: 'message' }, message)];
  if (status) {
    const head = el('tr', {}, ...['id', 'name', 'access', 'features', 'extent', 'last', ''].map((k) => el('th', {}, k ? t(k) : '')));
    parts.push(el('h2', {}, t('layers')), el('table', { id: 'layers' }, head, ...status.layers.map(layerRow)),
      el('h2', {}, t('import')), importForm(), jobView(), health());
  }
  // The preview map keeps its element across renders.
  const map = document.getElementById('preview') ?? el('div', { id: 'preview' });
  root.replaceChildren(...parts, map);
  document.body.dataset.ready = 'yes';
}

// The health section is read again every two seconds, and only it is redrawn, so that a form
// being filled in is left alone.
setInterval(async () => {
  if (!status || document.hidden) return;
  const mine = loads;
  const r = await call('/admin/status');
  if (mine !== loads || r.status !== 200 || !status) return;
  Object.assign(status, { feed: r.body.feed, database: r.body.database });
  document.getElementById('health')?.replaceWith(health());
}, 2000);

load();
