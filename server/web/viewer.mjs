// /viewer: every layer the caller may see, a layer list with legends, popups, a search over
// heritage sites and tourist spots that uses the service's `q` search, and on a click the point
// features nearest it (the service's `near`); with the monitoring stations layer, the open alerts
// and each station's readings (monitoring.mjs).
import {
  anchorOf, apiKey, bandoLayer, config, createMap, fitToStyle, getJson, inspectOnClick, language, languageButton,
  layersOf, showPopup,
} from '/assets/common.mjs';
import { addReadings, alertsSection, stationColourer } from '/assets/monitoring.mjs';

const TEXT = {
  vi: {
    layers: 'Lớp bản đồ', search: 'Tìm di tích, điểm du lịch…', none: 'Không tìm thấy', key: 'Khóa API',
    keyHint: 'Nhập khóa để xem các lớp nội bộ', apply: 'Dùng', clear: 'Xóa', language: 'English',
    nearest: 'Gần nhất', nothingNear: 'Không có gì trong vòng 5 km',
    alerts: 'Cảnh báo quan trắc', noAlerts: 'Không có cảnh báo', readings: 'Số liệu mới nhất',
    noReadings: 'Chưa có số liệu', noData: 'mất tín hiệu',
  },
  en: {
    layers: 'Layers', search: 'Find heritage sites, tourist spots…', none: 'Nothing found', key: 'API key',
    keyHint: 'Enter a key to see internal layers', apply: 'Use', clear: 'Clear', language: 'Tiếng Việt',
    nearest: 'Nearest', nothingNear: 'Nothing within 5 km',
    alerts: 'Monitoring alerts', noAlerts: 'No open alerts', readings: 'Latest readings',
    noReadings: 'No readings yet', noData: 'no data',
  },
};
let lang = language();
const t = (k) => TEXT[lang][k];

const map = createMap('map', config.style);
const panel = document.createElement('aside');
panel.className = 'panel';
document.body.append(panel);

let layers = [];
let alerts;
// The monitoring stations layers shown.
let stations = new Set();
// Each layer with the titles, units and code labels of its properties, for popups.
let described = {};
const hidden = new Set();

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function setVisible(id, visible) {
  if (visible) hidden.delete(id); else hidden.add(id);
  for (const l of map.getStyle().layers) {
    if (bandoLayer(l) === id) map.setLayoutProperty(l.id, 'visibility', visible ? 'visible' : 'none');
  }
}

// The style's sprite at 2x, for the legend's pictograms: its index, and the sheet's size.
const SPRITE = '/assets/sprite@2x';
let sprite = {};
let sheet = [0, 0];

/** A legend entry's colour, with the pictogram the map draws on it when it has one. */
function swatch(item) {
  const at = item.icon && sprite[item.icon];
  const s = el('span', { className: at ? 'swatch icon' : 'swatch' });
  s.style.backgroundColor = item.color;
  if (at) {
    // 12 px of a 32 px icon: the sheet scaled by 12/32, shifted to the icon.
    const k = 12 / at.width;
    const icon = el('span');
    Object.assign(icon.style, {
      backgroundImage: `url(${SPRITE}.png)`,
      backgroundSize: `${sheet[0] * k}px ${sheet[1] * k}px`,
      backgroundPosition: `${-at.x * k}px ${-at.y * k}px`,
    });
    s.dataset.icon = item.icon;
    s.append(icon);
  }
  return s;
}

function layerList() {
  return el('ul', { className: 'layers' }, ...layers.map((l) => {
    const box = el('input', { type: 'checkbox', checked: !hidden.has(l.id), id: `layer-${l.id}` });
    box.addEventListener('change', () => setVisible(l.id, box.checked));
    const legend = el('ul', { className: 'legend' }, ...l.legend.map((item) => el('li', {}, swatch(item), item.label[lang])));
    const item = el('li', {}, box, el('label', { htmlFor: box.id }, l.title), legend);
    item.dataset.layer = l.id;
    return item;
  }));
}

function searchBox() {
  const input = el('input', { type: 'search', id: 'search', placeholder: t('search'), autocomplete: 'off' });
  const results = el('ol', { className: 'results', id: 'results' });
  const searchable = layers.filter((l) => l.theme === 'heritage');
  let found = [];
  let pending = 0;
  const go = (hit) => {
    results.replaceChildren();
    input.value = hit.properties.name ?? input.value;
    const at = anchorOf(hit.geometry);
    map.flyTo({ center: at, zoom: Math.max(map.getZoom(), 15) });
    map.once('moveend', () => showPopup(map, at, described[hit.layer], hit.properties));
  };
  const search = async () => {
    const q = input.value.trim();
    const mine = ++pending;
    if (!q) { results.replaceChildren(); found = []; return; }
    // A layer whose search fails (a reload under way, a lost connection) adds no results.
    const pages = await Promise.all(searchable.map((l) => getJson(
      `/collections/${l.id}/items?q=${encodeURIComponent(q)}&limit=8&f=json`,
    ).then((page) => page.features.map((f) => ({ ...f, layer: l.id })), () => [])));
    if (mine !== pending) return;
    found = pages.flat();
    results.replaceChildren(...(found.length ? found.map((hit) => {
      const item = el('li', { tabIndex: 0 }, el('b', {}, hit.properties.name ?? hit.id), ' ',
        el('small', {}, hit.properties.kind ?? described[hit.layer].title));
      item.addEventListener('click', () => go(hit));
      return item;
    }) : [el('li', { className: 'none' }, t('none'))]));
  };
  let timer;
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 200); });
  input.addEventListener('keydown', async (e) => {
    if (e.key !== 'Enter') return;
    clearTimeout(timer);
    await search();
    if (found.length) go(found[0]);
  });
  return searchable.length ? el('div', { className: 'search' }, input, results) : el('div');
}

// What is near a clicked place: the five nearest features of the point layers shown (sites,
// warehouses, ports…) within 5 km, the clicked one aside, added to the click's popup.
const NEAREST = 5;
const NEAR_METRES = 5000;

function metres(d) {
  return d < 1000 ? `${Math.round(d)} m` : `${(d / 1000).toFixed(1)} km`;
}

async function addNearest(content, at, clicked) {
  const points = new Set(map.getStyle().layers.filter((l) => l.type === 'circle').map(bandoLayer));
  const shown = layers.filter((l) => !hidden.has(l.id) && points.has(l.id));
  const section = el('section', { className: 'bando-nearest' }, el('h4', {}, t('nearest')));
  section.dataset.at = `${at.lng},${at.lat}`;
  section.dataset.layers = shown.map((l) => l.id).join(',');
  if (clicked) section.dataset.except = `${bandoLayer(clicked.layer)}/${clicked.id}`;
  content.append(section);
  // A layer whose query fails (a reload under way, a lost connection) adds nothing.
  const pages = await Promise.all(shown.map((l) => getJson(
    `/collections/${l.id}/items?near=${at.lng},${at.lat}&within=${NEAR_METRES}&limit=${NEAREST + 1}&f=json`,
  ).then((page) => page.features.map((f) => ({ ...f, layer: l.id })), () => [])));
  const nearest = pages.flat()
    .filter((f) => `${f.layer}/${f.id}` !== section.dataset.except)
    .sort((a, b) => a.properties.distance_m - b.properties.distance_m
      || (a.layer < b.layer ? -1 : a.layer > b.layer) || a.id - b.id)
    .slice(0, NEAREST);
  const list = el('ol', {}, ...nearest.map((hit) => {
    const { distance_m: distance, ...properties } = hit.properties;
    const item = el('li', { tabIndex: 0 }, el('b', {}, properties.name ?? `${described[hit.layer].title} ${hit.id}`), ' ',
      el('small', {}, `${described[hit.layer].title} · ${metres(distance)}`));
    Object.assign(item.dataset, { layer: hit.layer, id: hit.id, metres: distance });
    item.addEventListener('click', () => {
      const to = anchorOf(hit.geometry);
      map.flyTo({ center: to, zoom: Math.max(map.getZoom(), 15) });
      map.once('moveend', () => showPopup(map, to, described[hit.layer], properties));
    });
    return item;
  }));
  section.append(nearest.length ? list : el('p', {}, t('nothingNear')));
  section.dataset.done = 'yes';
}

function keyForm() {
  const input = el('input', { type: 'password', id: 'api-key', placeholder: t('keyHint'), value: apiKey() });
  const use = el('button', { type: 'submit' }, t('apply'));
  const form = el('form', { className: 'key' }, el('label', { htmlFor: 'api-key' }, t('key')), input, use);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value) sessionStorage.setItem('bando-key', input.value); else sessionStorage.removeItem('bando-key');
    location.reload();
  });
  return form;
}

function render() {
  document.documentElement.lang = lang;
  const switcher = languageButton(t('language'), (chosen) => {
    lang = chosen;
    render();
  });
  // Made once: its stream keeps running across re-renders (a language switch).
  alerts ??= stations.size ? alertsSection(t, stationColourer(map, stations)) : null;
  const monitoring = alerts ? [alerts] : [];
  panel.replaceChildren(
    el('header', {}, el('h1', {}, 'Bando'), switcher),
    searchBox(),
    ...monitoring,
    el('h2', {}, t('layers')),
    layerList(),
    keyForm(),
  );
}

map.once('load', async () => {
  layers = map.getStyle().metadata?.['bando:layers'] ?? [];
  stations = new Set(layers.filter((l) => l.theme === 'monitoring').map((l) => l.id));
  described = layersOf(map);
  // Without the index the legend shows colours alone.
  sprite = await getJson(`${SPRITE}.json`).catch(() => ({}));
  const boxes = Object.values(sprite);
  sheet = [Math.max(0, ...boxes.map((b) => b.x + b.width)), Math.max(0, ...boxes.map((b) => b.y + b.height))];
  render();
  inspectOnClick(map, described, (content, at, clicked) => {
    if (clicked && stations.has(bandoLayer(clicked.layer))) addReadings(content, clicked.id, t);
    return addNearest(content, at, clicked);
  });
  fitToStyle(map);
  const focus = config.focus && layers.find((l) => l.id === config.focus);
  if (focus) {
    const collection = await getJson(`/collections/${focus.id}?f=json`).catch(() => null);
    const [box] = collection?.extent?.spatial?.bbox ?? [];
    if (box) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 20, animate: false });
  }
  // The view is set: tests wait for this before they look.
  document.body.dataset.ready = 'yes';
});
