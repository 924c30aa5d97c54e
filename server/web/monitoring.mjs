// The monitoring part of /viewer, shown when the style has the monitoring stations layer: the
// open alerts, kept current from the alert stream, the stations recoloured by them as they
// change, and for a clicked station its latest readings and a chart of one parameter over the
// 24 hours before its latest reading (SensorThings reads).
import { apiKey, bandoLayer, getJson } from '/assets/common.mjs';

const STA = '/sta/v1.1';
const DAY_MS = 24 * 3600 * 1000;

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function headers() {
  const key = apiKey();
  return key ? { 'X-API-Key': key } : {};
}

function describe(alert, t) {
  const below = alert.lowerLimit !== null && alert.value < alert.lowerLimit;
  const what = alert.kind === 'no_data' ? t('noData')
    : `${alert.value} ${alert.unit ?? ''} ${below ? `< ${alert.lowerLimit}` : `> ${alert.upperLimit}`}`;
  return `${alert.thing.name}: ${alert.parameter} — ${what}`;
}

/** The open alerts, listed, and refreshed at every event of the alert stream; `onAlerts` is
 * given them at each refresh. */
export function alertsSection(t, onAlerts) {
  const list = el('ol', { className: 'alerts', id: 'alerts' });
  const section = el('section', { className: 'monitoring' }, el('h2', {}, t('alerts')), list);
  const refresh = async () => {
    const open = await getJson('/alerts').catch(() => ({ alerts: [] }));
    list.replaceChildren(...(open.alerts.length
      ? open.alerts.map((a) => {
        const item = el('li', { className: `alert ${a.status}` }, describe(a, t));
        Object.assign(item.dataset, { alert: a.id, thing: a.thing.id, datastream: a.datastream });
        return item;
      })
      : [el('li', { className: 'none' }, t('noAlerts'))]));
    list.dataset.count = open.alerts.length;
    onAlerts(open.alerts);
  };
  follow(refresh, list);
  return section;
}

/**
 * Colours the stations of the map's `stations` layers by the open alerts at once, through
 * feature state (which the monitoring style's colour reads before the tile's `status`), rather
 * than waiting for new tiles: silent first, then over a limit, as the server ranks them; a
 * station whose alerts all closed is within its limits again.
 */
export function stationColourer(map, stations) {
  const recoloured = new Set();
  return (alerts) => {
    const status = new Map();
    for (const a of alerts) {
      if (status.get(a.thing.id) !== 'no_data') status.set(a.thing.id, a.kind === 'no_data' ? 'no_data' : 'alert');
    }
    const sources = new Map();
    for (const l of map.getStyle().layers) {
      if (stations.has(bandoLayer(l)) && l['source-layer']) sources.set(`${l.source}/${l['source-layer']}`, l);
    }
    for (const id of new Set([...recoloured, ...status.keys()])) {
      for (const l of sources.values()) {
        map.setFeatureState({ source: l.source, sourceLayer: l['source-layer'], id }, { status: status.get(id) ?? 'ok' });
      }
      recoloured.add(id);
    }
  };
}

/** Reads the alert stream (with the caller's key, which EventSource cannot send). */
async function follow(onEvent, list) {
  for (;;) {
    try {
      const response = await fetch('/alerts/stream', { headers: headers() });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      // What changed while the stream was away.
      await onEvent();
      list.dataset.live = 'yes';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const events = buffer.split('\n\n');
        buffer = events.pop();
        if (events.some((e) => e.includes('data:'))) await onEvent();
      }
    } catch {
      // The stream resumes below.
    }
    list.dataset.live = 'no';
    await new Promise((r) => { setTimeout(r, 3000); });
  }
}

/** A polyline of the readings: time across, value up, the range labelled. */
function chart(observations, unit) {
  const ns = 'http://www.w3.org/2000/svg';
  const [w, h, pad] = [300, 120, 4];
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'bando-chart');
  const times = observations.map((o) => Date.parse(o.phenomenonTime.split('/')[0]));
  const values = observations.map((o) => Number(o.result));
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const [v0, v1] = [Math.min(...values), Math.max(...values)];
  const x = (t) => pad + ((t - t0) / Math.max(t1 - t0, 1)) * (w - 2 * pad);
  const y = (v) => h - pad - ((v - v0) / Math.max(v1 - v0, 1e-9)) * (h - 2 * pad);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', times.map((t, i) => `${x(t).toFixed(1)},${y(values[i]).toFixed(1)}`).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#1971c2');
  line.setAttribute('stroke-width', '1.5');
  svg.append(line);
  svg.dataset.points = observations.length;
  const caption = el('small', {}, `${v0} – ${v1} ${unit}`);
  return el('figure', { className: 'bando-readings-chart' }, svg, caption);
}

/** Adds a station's latest readings and a 24-hour chart of one of them to its popup. */
export async function addReadings(content, thing, t) {
  const section = el('section', { className: 'bando-readings' }, el('h4', {}, t('readings')));
  content.append(section);
  const latest = await getJson(`${STA}/Things(${thing})/Datastreams?$orderby=name`
    + '&$expand=Observations($top=1;$orderby=phenomenonTime desc),ObservedProperty($select=name)');
  const table = el('table', {});
  const streams = latest.value.filter((d) => d.Observations?.length);
  for (const d of streams) {
    const [o] = d.Observations;
    const row = table.insertRow();
    row.insertCell().textContent = d.ObservedProperty?.name ?? d.name;
    row.insertCell().textContent = `${o.result} ${d.unitOfMeasurement?.symbol ?? ''}`;
    row.dataset.datastream = d['@iot.id'];
    row.tabIndex = 0;
    row.addEventListener('click', () => draw(d));
  }
  section.append(streams.length ? table : el('p', {}, t('noReadings')));
  const figure = el('div', { className: 'chart' });
  section.append(figure);
  async function draw(d) {
    const until = Date.parse(d.Observations[0].phenomenonTime.split('/')[0]);
    const from = new Date(until - DAY_MS).toISOString();
    const page = await getJson(`${STA}/Datastreams(${d['@iot.id']})/Observations`
      + `?$filter=${encodeURIComponent(`phenomenonTime ge ${from}`)}&$orderby=phenomenonTime desc`
      + '&$select=phenomenonTime,result&$top=1500');
    // The newest 1 500 readings of the day (a reading a minute fits), oldest first.
    figure.replaceChildren(el('h5', {}, `${d.ObservedProperty?.name ?? d.name}, 24 h`),
      chart(page.value.reverse(), d.unitOfMeasurement?.symbol ?? ''));
    figure.dataset.datastream = d['@iot.id'];
  }
  // The parameter in alert first, else the first one.
  const open = await getJson('/alerts').catch(() => ({ alerts: [] }));
  const alerted = open.alerts.find((a) => a.thing.id === thing && a.kind === 'limit');
  const first = streams.find((d) => d['@iot.id'] === alerted?.datastream) ?? streams[0];
  if (first) await draw(first);
  section.dataset.done = 'yes';
}
