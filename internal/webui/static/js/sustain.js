// Sustainment panels: stocks, transfers, work orders, readiness and a
// forecast chart (inline SVG, no library). The tab appears only when the
// node answers /api/v1/sustainment/stocks. Everything shown — every row,
// total and chart point — was filtered by label on the server for this
// page's principal; the page adds nothing it was not sent.

import { el, markingBadge } from './panels.js';

const POLL_MS = 5000;
const API = 'api/v1/sustainment/';
const $ = (id) => document.getElementById(id);
// The SVG namespace, taken from the parser rather than written out: the
// page's sources name no outside address, not even a namespace URI.
const SVG = (() => {
  const probe = document.createElement('div');
  probe.innerHTML = '<svg></svg>';
  return probe.firstChild.namespaceURI;
})();

async function getJSON(path) {
  const res = await fetch(API + path, { headers: { Accept: 'application/json' } });
  if (!res.ok) return { ok: false, status: res.status };
  return { ok: true, body: await res.json() };
}

function table(cols, rows, rowAttrs = () => ({})) {
  if (!rows.length) return el('div', { class: 'muted' }, 'None visible');
  return el(
    'table',
    { class: 'sus-table' },
    el('tr', {}, cols.map(([h]) => el('th', {}, h))),
    rows.map((r) => el('tr', rowAttrs(r), cols.map(([, f]) => el('td', {}, f(r))))),
  );
}

function colourChip(c) {
  return el('span', { class: 'sus-colour', dataset: { colour: c || '' } }, c || '?');
}

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// chart draws a forecast: the projected stock per day as a line, the
// safety level as a dashed line, and the first day below it marked.
export function chart(f, width = 320, height = 160) {
  const pts = f.points || [];
  const pad = { l: 34, r: 8, t: 10, b: 22 };
  const maxQ = Math.max(1, f.safety || 0, ...pts.map((p) => p.quantity));
  const x = (d) => pad.l + (d / Math.max(1, pts.length - 1)) * (width - pad.l - pad.r);
  const y = (q) => pad.t + (1 - q / maxQ) * (height - pad.t - pad.b);
  const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.day).toFixed(1)},${y(p.quantity).toFixed(1)}`).join(' ');
  const g = svg('svg', { class: 'sus-chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `Forecast of ${f.item} at ${f.location}` });
  g.append(
    svg('line', { x1: pad.l, y1: y(0), x2: width - pad.r, y2: y(0), class: 'axis' }),
    svg('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: y(0), class: 'axis' }),
    svg('text', { x: 2, y: pad.t + 8, class: 'tick' }, String(Math.round(maxQ))),
    svg('text', { x: 2, y: y(0), class: 'tick' }, '0'),
    svg('text', { x: pad.l, y: height - 4, class: 'tick' }, 'today'),
    svg('text', { x: width - pad.r - 40, y: height - 4, class: 'tick' }, `+${Math.max(0, pts.length - 1)} d`),
  );
  if (f.safety > 0) {
    g.append(svg('line', { x1: pad.l, y1: y(f.safety), x2: width - pad.r, y2: y(f.safety), class: 'safety' }),
      svg('text', { x: width - pad.r - 60, y: y(f.safety) - 3, class: 'tick' }, `safety ${f.safety}`));
  }
  g.append(svg('path', { d: line, class: 'series' }));
  const below = pts.find((p) => f.safety > 0 && p.quantity < f.safety);
  if (below) g.append(svg('circle', { cx: x(below.day), cy: y(below.quantity), r: 4, class: 'breach' }));
  return g;
}

export function startSustain(store) {
  const tab = $('tab-sustain');
  const pane = $('pane-sustain');
  if (!tab || !pane) return () => {};
  const boxes = {
    stocks: el('div', { id: 'sus-stocks' }),
    readiness: el('div', { id: 'sus-readiness' }),
    transfers: el('div', { id: 'sus-transfers' }),
    workorders: el('div', { id: 'sus-workorders' }),
    forecast: el('div', { id: 'sus-forecast' }),
  };
  const pick = el('select', { id: 'sus-forecast-pick', title: 'Stock to forecast' });
  const days = el('select', { id: 'sus-forecast-days', title: 'Horizon' }, [14, 30, 60, 90].map((d) => el('option', { value: d }, `${d} days`)));
  days.value = '30';
  pane.append(
    el('h3', {}, 'Readiness'), boxes.readiness,
    el('h3', {}, 'Stocks'), el('a', { href: API + 'stocks?format=csv', download: 'stocks.csv', class: 'sus-csv' }, 'CSV'), boxes.stocks,
    el('h3', {}, 'Forecast'), el('div', { class: 'filters' }, pick, days), boxes.forecast,
    el('h3', {}, 'Transfers'), boxes.transfers,
    el('h3', {}, 'Work orders'), boxes.workorders,
  );
  let enabled = true;
  let stocks = [];

  async function drawForecast() {
    const v = pick.value;
    if (!v) {
      boxes.forecast.replaceChildren(el('div', { class: 'muted' }, 'No stock to forecast'));
      return;
    }
    const [item, location, owner] = JSON.parse(v);
    const q = new URLSearchParams({ item, location, owner, days: days.value });
    const r = await getJSON(`forecast?${q}`);
    if (!r.ok) {
      boxes.forecast.replaceChildren(el('div', { class: 'muted' }, 'No forecast visible'));
      return;
    }
    const f = r.body;
    store?.setPanelLabels('sustain-forecast', [f.label]);
    boxes.forecast.replaceChildren(
      el('div', {}, markingBadge(f.label), ` ${f.item} at ${f.location} (${f.owner}): ${f.onHand} on hand, ${f.ratePerDay.toFixed(2)}/day`),
      chart(f),
      el('div', { class: f.belowSafety ? 'sus-breach' : 'muted', id: 'sus-breach' },
        f.belowSafety ? `Below safety level ${f.safety} on ${f.belowSafety.slice(0, 10)}` :
          f.safety > 0 ? `Stays above safety level ${f.safety}` : 'No safety level set'),
    );
  }
  pick.addEventListener('change', drawForecast);
  days.addEventListener('change', drawForecast);

  async function refresh() {
    if (!enabled) return;
    try {
      const s = await getJSON('stocks');
      if (!s.ok) {
        tab.hidden = true;
        enabled = false;
        return;
      }
      tab.hidden = false;
      stocks = s.body.stocks || [];
      boxes.stocks.replaceChildren(table(
        [['Item', (x) => x.item], ['Location', (x) => x.location], ['Owner', (x) => x.owner], ['Qty', (x) => x.quantity],
          ['Node', (x) => x.node || ''], ['Marking', (x) => markingBadge(x.label)]],
        stocks, (x) => ({ dataset: { item: x.item, location: x.location, owner: x.owner } })));
      const [rd, tr, wo] = await Promise.all([getJSON('readiness'), getJSON('transfers'), getJSON('workorders')]);
      // What the panel shows counts for the banner.
      store?.setPanelLabels('sustain', [
        ...stocks.map((x) => x.label),
        ...(rd.ok ? rd.body.readiness || [] : []).map((x) => x.label),
        ...(tr.ok ? tr.body.transfers || [] : []).map((x) => x.label),
        ...(wo.ok ? wo.body.workorders || [] : []).map((x) => x.label),
      ]);
      if (rd.ok) {
        boxes.readiness.replaceChildren(table(
          [['Unit', (r) => r.name || r.unit], ['Own', (r) => colourChip(r.colour)], ['Roll-up', (r) => colourChip(r.rollup)],
            ['Equipment', (r) => `${r.available}/${r.assigned}`],
            ['Munitions', (r) => (r.munitions || []).map((m) => `${m.item} ${m.onHand}/${m.required}`).join(', ')],
            ['Why', (r) => (r.reasons || []).join('; ')], ['Marking', (r) => markingBadge(r.label)]],
          rd.body.readiness || [], (r) => ({ dataset: { unit: r.unit, colour: r.colour }, class: r.alert ? 'sus-alert' : null })));
      }
      if (tr.ok) {
        boxes.transfers.replaceChildren(table(
          [['Item', (t) => `${t.quantity} ${t.item}`], ['From', (t) => `${t.from} (${t.fromNation})`], ['To', (t) => `${t.to} (${t.toNation})`],
            ['Export', (t) => (t.export ? '✓' : '…')], ['Receipt', (t) => (t.receipt ? '✓' : '…')], ['State', (t) => t.state],
            ['Marking', (t) => markingBadge(t.label)]],
          tr.body.transfers || [], (t) => ({ dataset: { transfer: t.id, state: t.state } })));
      }
      if (wo.ok) {
        boxes.workorders.replaceChildren(table(
          [['Asset', (w) => w.asset], ['Facility', (w) => w.facility], ['Type', (w) => w.type], ['Status', (w) => w.status],
            ['Planned', (w) => String(w.plannedCompletion || '').slice(0, 10)], ['Marking', (w) => markingBadge(w.label)]],
          wo.body.workorders || [], (w) => ({ dataset: { asset: w.asset, status: w.status } })));
      }
      // Forecast choices: every visible local balance.
      const prev = pick.value;
      const opts = stocks.filter((x) => !x.node).map((x) => JSON.stringify([x.item, x.location, x.owner]));
      const want = opts.includes(prev) ? prev : opts.find((o) => JSON.parse(o)[1].includes('btry') || JSON.parse(o)[1].includes('patriot')) || opts[0] || '';
      pick.replaceChildren(...opts.map((o) => {
        const [i, l, w] = JSON.parse(o);
        return el('option', { value: o }, `${i} · ${l} · ${w}`);
      }));
      pick.value = want;
      await drawForecast();
    } catch {
      // Try again on the next tick.
    }
  }
  refresh();
  setInterval(refresh, POLL_MS);
  return () => {
    enabled = true;
    refresh();
  };
}
