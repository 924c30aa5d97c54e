// What the viewer and the embeddable map share: the map itself, requests with the caller's key,
// and popups. Everything is loaded from this server; nothing from another host.
import * as maplibregl from '/assets/maplibre-gl.mjs';

export { maplibregl };

/** The page's configuration, written by the server into a JSON script element. */
export const config = JSON.parse(document.getElementById('bando-config').textContent);

/** The API key the user gave on this tab, if any; it is sent only to this server. */
export function apiKey() {
  try {
    return sessionStorage.getItem('bando-key') || '';
  } catch {
    // Storage is refused in some frames (sandboxed, third-party): no key then.
    return '';
  }
}

const ownUrl = (url) => new URL(url, location.href).origin === location.origin;

/** `fetch` from this server with the caller's key. */
export async function getJson(url) {
  const key = apiKey();
  const response = await fetch(url, { headers: key ? { 'X-API-Key': key } : {} });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

/** A map of `style`, whose requests to this server carry the caller's key. */
export function createMap(container, style, options = {}) {
  const map = new maplibregl.Map({
    container,
    style,
    attributionControl: { compact: true },
    transformRequest: (url) => {
      const key = apiKey();
      return key && ownUrl(url) ? { url, headers: { 'X-API-Key': key } } : { url };
    },
    ...options,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  // Tests and embedding pages reach the map here.
  window.bandoMap = map;
  return map;
}

/** The layer a style layer draws, from its metadata. */
export const bandoLayer = (styleLayer) => styleLayer?.metadata?.['bando:layer'];

/** The features drawn within a few pixels of `point`, topmost first. */
export function featuresNear(map, point, radius = 5) {
  const box = [[point.x - radius, point.y - radius], [point.x + radius, point.y + radius]];
  return map.queryRenderedFeatures(box).filter((f) => bandoLayer(f.layer));
}

/** The language chosen on the viewer, Vietnamese unless English was. */
export function language() {
  try {
    return localStorage.getItem('bando-lang') || 'vi';
  } catch {
    return 'vi';
  }
}

/** A button that switches between Vietnamese and English, remembers it, then calls `switched`. */
export function languageButton(label, switched) {
  const button = Object.assign(document.createElement('button'), { type: 'button', className: 'lang', textContent: label });
  button.addEventListener('click', () => {
    const chosen = language() === 'vi' ? 'en' : 'vi';
    localStorage.setItem('bando-lang', chosen);
    switched(chosen);
  });
  return button;
}

/** Each layer the style draws, by id: its title and how people name its properties. */
export function layersOf(map) {
  return Object.fromEntries((map.getStyle().metadata?.['bando:layers'] ?? []).map((l) => [l.id, l]));
}

/** A property's title and value as people read them: a code with its label, a number with its unit. */
export function describe(layer, key, value, lang = language()) {
  const about = layer?.properties?.[key] ?? {};
  const label = about.labels?.[String(value)]?.[lang];
  const text = label ? `${label} (${value})` : String(value);
  return [about.title?.[lang] ?? key, about.unit ? `${text} ${about.unit}` : text];
}

/** A popup element listing a feature's properties, built without parsing any of its text. */
export function popupContent(layer, properties) {
  const root = document.createElement('div');
  root.className = 'bando-popup';
  const heading = document.createElement('h3');
  heading.textContent = properties.name ?? layer?.title ?? '';
  root.append(heading);
  const table = document.createElement('table');
  for (const [key, value] of Object.entries(properties)) {
    if (key === 'name' || value === null || value === undefined || value === '') continue;
    const row = table.insertRow();
    row.dataset.property = key;
    for (const text of describe(layer, key, value)) row.insertCell().textContent = text;
  }
  root.append(table);
  return root;
}

let openPopup = null;

/** Opens a popup of `content` (an element) at `lngLat`, closing the one open before. */
export function openPopupWith(map, lngLat, content) {
  openPopup?.remove();
  openPopup = new maplibregl.Popup({ maxWidth: '22rem' }).setLngLat(lngLat).setDOMContent(content).addTo(map);
  return openPopup;
}

/** Opens a popup of a feature of `layer` (an entry of `layersOf`) at `lngLat`. */
export function showPopup(map, lngLat, layer, properties) {
  return openPopupWith(map, lngLat, popupContent(layer, properties));
}

/**
 * Opens a popup for whatever was clicked. With `more`, every click opens one (an empty place
 * too), and `more(content, lngLat, feature)` may add to it.
 */
export function inspectOnClick(map, layers, more = null) {
  map.on('click', (e) => {
    const [feature] = featuresNear(map, e.point);
    if (!feature && !more) return;
    const content = feature ? popupContent(layers[bandoLayer(feature.layer)], feature.properties)
      : Object.assign(document.createElement('div'), { className: 'bando-popup' });
    openPopupWith(map, e.lngLat, content);
    more?.(content, e.lngLat, feature);
  });
  map.on('mousemove', (e) => {
    map.getCanvas().style.cursor = featuresNear(map, e.point).length ? 'pointer' : '';
  });
}

/** A point to show a GeoJSON feature at: the point itself, or the middle of its box. */
export function anchorOf(geometry) {
  if (geometry.type === 'Point') return geometry.coordinates;
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] !== 'number') return c.forEach(walk);
    box[0] = Math.min(box[0], c[0]);
    box[1] = Math.min(box[1], c[1]);
    box[2] = Math.max(box[2], c[0]);
    box[3] = Math.max(box[3], c[1]);
  };
  walk(geometry.coordinates);
  return [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
}

/** Fits the map to the style's layers when the page names no view. */
export function fitToStyle(map) {
  const bounds = map.getStyle().metadata?.['bando:bounds'];
  if (bounds) map.fitBounds(bounds, { padding: 20, animate: false });
}
