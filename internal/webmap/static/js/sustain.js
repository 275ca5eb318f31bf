// Sustainment panels: stocks, transfers, work orders, readiness and a
// forecast chart (inline SVG, no library). The tab appears only when the
// node answers /api/v1/sustainment/stocks. Everything shown — every row,
// total and chart point — was filtered by label on the server for this
// page's principal; the page adds nothing it was not sent.

import { el, markingBadge } from './panels.js';
import { readSignal, repaint, serialized } from './refresh.js';

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
  const res = await fetch(API + path, { headers: { Accept: 'application/json' }, signal: readSignal() });
  if (!res.ok) return { ok: false, status: res.status };
  return { ok: true, body: await res.json() };
}

// send posts an action; the server decides (label, nation, the chain of
// command's authority) and its refusal is shown as it gave it.
async function send(method, path, body) {
  const res = await fetch(API + path, {
    method,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  let out = {};
  try { out = await res.json(); } catch { /* empty answer */ }
  if (!res.ok) throw new Error(out.error || `${res.status}`);
  return out;
}

const field = (id, attrs = {}) => el('input', { id, ...attrs });
const releasable = (v) => {
  const to = String(v || '').split(/[\s,]+/).filter(Boolean).map((x) => x.toUpperCase());
  return to.length ? { classification: 'SECRET', releasableTo: to } : undefined;
};

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

export function startSustain(store, { map, detailBox } = {}) {
  const tab = $('tab-sustain');
  const pane = $('pane-sustain');
  if (!tab || !pane) return () => {};
  const msg = el('div', { id: 'sus-msg', class: 'muted', role: 'status' });
  const say = (text, bad = false) => {
    msg.textContent = text;
    msg.className = bad ? 'sus-breach' : 'muted';
  };
  const act = async (what, f) => {
    try {
      await f();
      say(`${what}: done`);
    } catch (err) {
      say(`${what}: ${err.message}`, true);
    }
    await refresh();
  };
  // Forms: request a transfer, record an expenditure, open a work order.
  const xf = {
    item: el('select', { id: 'sus-xf-item', title: 'Item' }),
    qty: field('sus-xf-qty', { type: 'number', min: 1, value: 1, title: 'Quantity' }),
    from: field('sus-xf-from', { placeholder: 'from location', list: 'sus-locs' }),
    fromNation: field('sus-xf-from-nation', { placeholder: 'its nation if allied', size: 4 }),
    to: field('sus-xf-to', { placeholder: 'to location', list: 'sus-locs' }),
    toNation: field('sus-xf-to-nation', { placeholder: 'its nation if allied', size: 4 }),
    rel: field('sus-xf-rel', { placeholder: 'releasable to, e.g. JPN', size: 10 }),
  };
  const xfForm = el('form', { id: 'sus-xf-form', class: 'filters' }, Object.values(xf), el('button', { type: 'submit' }, 'Request transfer'));
  xfForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act('Transfer request', () => send('POST', 'transfers', {
      item: xf.item.value, quantity: Number(xf.qty.value), from: xf.from.value.trim(), to: xf.to.value.trim(),
      fromNation: xf.fromNation.value.trim().toUpperCase() || undefined, toNation: xf.toNation.value.trim().toUpperCase() || undefined,
      label: releasable(xf.rel.value),
    }));
  });
  const ex = {
    unit: el('select', { id: 'sus-ex-unit', title: 'Firing unit' }),
    item: el('select', { id: 'sus-ex-item', title: 'Item' }),
    qty: field('sus-ex-qty', { type: 'number', min: 1, value: 1, title: 'Quantity' }),
    track: field('sus-ex-track', { placeholder: 'track uid' }),
    rel: field('sus-ex-rel', { placeholder: 'releasable to', size: 10 }),
  };
  const exForm = el('form', { id: 'sus-ex-form', class: 'filters' }, Object.values(ex), el('button', { type: 'submit' }, 'Record expenditure'));
  exForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act('Expenditure', () => send('POST', 'engagements', {
      unit: ex.unit.value, item: ex.item.value, quantity: Number(ex.qty.value), track: ex.track.value.trim() || undefined, label: releasable(ex.rel.value),
    }));
  });
  const wf = {
    asset: field('sus-wo-asset', { placeholder: 'asset' }),
    facility: field('sus-wo-facility', { placeholder: 'facility', list: 'sus-locs' }),
    type: field('sus-wo-type', { placeholder: 'work type' }),
    days: field('sus-wo-days', { type: 'number', min: 1, value: 30, title: 'Planned days' }),
    rel: field('sus-wo-rel', { placeholder: 'releasable to', size: 10 }),
  };
  const woForm = el('form', { id: 'sus-wo-form', class: 'filters' }, Object.values(wf), el('button', { type: 'submit' }, 'Open work order'));
  woForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act('Work order', () => send('POST', 'workorders', {
      asset: wf.asset.value.trim(), facility: wf.facility.value.trim(), type: wf.type.value.trim(), status: 'inducted',
      induction: new Date().toISOString(), plannedCompletion: new Date(Date.now() + Number(wf.days.value) * 86400000).toISOString(),
      label: releasable(wf.rel.value),
    }));
  });
  const locList = el('datalist', { id: 'sus-locs' });
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
    el('h3', {}, 'Transfers'), xfForm, boxes.transfers,
    el('h3', {}, 'Expenditure'), exForm,
    el('h3', {}, 'Work orders'), woForm, boxes.workorders,
    locList,
  );
  pane.prepend(msg);
  let enabled = true;
  let stocks = [];
  let readiness = [];
  const alertBox = el('div', { id: 'sus-alerts' });
  $('alerts')?.after(alertBox);
  // SVG, as the missile layer: each ring is an element tools can find.
  const rings = map && globalThis.L ? globalThis.L.layerGroup().addTo(map) : null;
  const ringRenderer = rings ? globalThis.L.svg({ padding: 0.5 }) : null;

  // The map alert: every visible unit below its operator threshold or with
  // a munition below its safety level, as a bar and a ring on the map.
  function drawAlerts() {
    const alerts = readiness.filter((r) => r.alert);
    repaint(alertBox, alerts, () => alerts.map((r) => el('div', { class: 'alert sus-map-alert', role: 'alert', dataset: { unit: r.unit, colour: r.colour } },
      markingBadge(r.label), el('span', {}, ` READINESS ${r.colour} · ${r.name || r.unit} · ${(r.reasons || []).join('; ')}`),
      r.lat || r.lon ? el('button', { onclick: () => map?.setView([r.lat, r.lon], Math.max(map.getZoom(), 8)) }, 'Show') : null)));
    if (!rings) return;
    rings.clearLayers();
    for (const r of alerts) {
      if (!r.lat && !r.lon) continue;
      globalThis.L.circleMarker([r.lat, r.lon], { radius: 16, color: r.colour === 'RED' ? '#c8102e' : '#e0a000', weight: 3, fill: false,
        className: `kz-sus-alert kz-sus-${r.colour}`, interactive: false, renderer: ringRenderer }).addTo(rings);
    }
  }

  // The unit panel: the readiness of the selected object's unit (by the
  // unit's id, its readiness report, or one of its assets' uids).
  function decorateDetail() {
    if (!detailBox) return;
    const uid = detailBox.querySelector('dd[data-field="UID"]')?.textContent;
    const r = uid && readiness.find((x) => x.unit === uid || (x.uids || []).includes(uid) ||
      (uid.startsWith('sustain.readiness.') && uid.endsWith(`.${x.unit}`)));
    const text = r ? `${r.colour}|${(r.reasons || []).join(';')}` : '';
    const old = detailBox.querySelector('.sus-unit-readiness');
    if (old && old.dataset.text === text) return;
    old?.remove();
    if (!r) return;
    detailBox.append(el('div', { class: 'sus-unit-readiness', id: 'detail-readiness', dataset: { text, colour: r.colour } },
      el('strong', {}, 'Readiness: '), colourChip(r.colour), ` ${r.name || r.unit} `, markingBadge(r.label),
      el('div', { class: 'sus-why' }, (r.reasons || []).length ? `Why: ${r.reasons.join('; ')}` : 'Why: equipment, munitions and days of supply all at the green level'),
      el('div', {}, `Equipment ${r.available}/${r.assigned}` + (r.munitions || []).map((m) => ` · ${m.item} ${m.onHand}/${m.required}`).join(''))));
  }
  if (detailBox) new MutationObserver(() => decorateDetail()).observe(detailBox, { childList: true });

  async function drawForecast() {
    const v = pick.value;
    if (!v) {
      repaint(boxes.forecast, 'none', () => el('div', { class: 'muted' }, 'No stock to forecast'));
      return;
    }
    const [item, location, owner] = JSON.parse(v);
    const q = new URLSearchParams({ item, location, owner, days: days.value });
    const r = await getJSON(`forecast?${q}`);
    if (!r.ok) {
      repaint(boxes.forecast, 'hidden', () => el('div', { class: 'muted' }, 'No forecast visible'));
      return;
    }
    const f = r.body;
    store?.setPanelLabels('sustain-forecast', [f.label]);
    repaint(boxes.forecast, f, () => [
      el('div', {}, markingBadge(f.label), ` ${f.item} at ${f.location} (${f.owner}): ${f.onHand} on hand, ${f.ratePerDay.toFixed(2)}/day`),
      chart(f),
      el('div', { class: f.belowSafety ? 'sus-breach' : 'muted', id: 'sus-breach' },
        f.belowSafety ? `Below safety level ${f.safety} on ${f.belowSafety.slice(0, 10)}` :
          f.safety > 0 ? `Stays above safety level ${f.safety}` : 'No safety level set'),
    ]);
  }
  pick.addEventListener('change', drawForecast);
  days.addEventListener('change', drawForecast);

  const refresh = serialized(async () => {
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
      repaint(boxes.stocks, stocks, () => table(
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
        readiness = rd.body.readiness || [];
        drawAlerts();
        decorateDetail();
        const units = readiness.filter((r) => !r.node).map((r) => r.unit);
        if (ex.unit.options.length !== units.length) ex.unit.replaceChildren(...units.map((u) => el('option', { value: u }, u)));
        repaint(boxes.readiness, readiness, () => table(
          [['Unit', (r) => r.name || r.unit], ['Own', (r) => colourChip(r.colour)], ['Roll-up', (r) => colourChip(r.rollup)],
            ['Equipment', (r) => `${r.available}/${r.assigned}`],
            ['Munitions', (r) => (r.munitions || []).map((m) => `${m.item} ${m.onHand}/${m.required}`).join(', ')],
            ['Why', (r) => (r.reasons || []).join('; ')], ['Marking', (r) => markingBadge(r.label)]],
          rd.body.readiness || [], (r) => ({ dataset: { unit: r.unit, colour: r.colour }, class: r.alert ? 'sus-alert' : null })));
      }
      if (tr.ok) {
        repaint(boxes.transfers, tr.body, () => table(
          [['Item', (t) => `${t.quantity} ${t.item}`], ['From', (t) => `${t.from} (${t.fromNation})`], ['To', (t) => `${t.to} (${t.toNation})`],
            ['Export', (t) => (t.export ? '✓' : '…')], ['Receipt', (t) => (t.receipt ? '✓' : '…')], ['State', (t) => t.state],
            ['Marking', (t) => markingBadge(t.label)],
            ['', (t) => transferActions(t)]],
          tr.body.transfers || [], (t) => ({ dataset: { transfer: t.id, state: t.state } })));
      }
      if (wo.ok) {
        repaint(boxes.workorders, wo.body, () => table(
          [['Asset', (w) => w.asset], ['Facility', (w) => w.facility], ['Type', (w) => w.type], ['Status', (w) => w.status],
            ['Planned', (w) => String(w.plannedCompletion || '').slice(0, 10)], ['Marking', (w) => markingBadge(w.label)],
            ['', (w) => (w.status === 'complete' ? '' : el('button', { class: 'sus-act', dataset: { act: 'close' },
              onclick: () => act('Close work order', () => send('POST', `workorders/${encodeURIComponent(w.id)}/status`, { status: 'complete' })) }, 'Close'))]],
          wo.body.workorders || [], (w) => ({ dataset: { asset: w.asset, status: w.status } })));
      }
      // Form choices: the catalogue and the locations this page may see.
      if (!xf.item.options.length) {
        const it = await getJSON('items');
        const names = it.ok ? (it.body.items || []).map((x) => x.name) : [];
        for (const sel of [xf.item, ex.item]) sel.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
      }
      const lc = await getJSON('locations');
      const ids = [...new Set([...(lc.ok ? lc.body.locations || [] : []).map((x) => x.id), ...stocks.map((x) => x.location)])].sort();
      repaint(locList, ids, () => ids.map((id) => el('option', { value: id })));
      // Forecast choices: every visible local balance.
      const prev = pick.value;
      const opts = stocks.filter((x) => !x.node).map((x) => JSON.stringify([x.item, x.location, x.owner]));
      const want = opts.includes(prev) ? prev : opts.find((o) => JSON.parse(o)[1].includes('btry') || JSON.parse(o)[1].includes('patriot')) || opts[0] || '';
      const choices = repaint(pick, opts, () => opts.map((o) => {
        const [i, l, w] = JSON.parse(o);
        return el('option', { value: o }, `${i} · ${l} · ${w}`);
      }));
      if (choices || pick.value !== want) pick.value = want;
      await drawForecast();
    } catch {
      // Try again on the next tick.
    }
  });
  // The actions a transfer allows now; the server checks who may take them.
  function transferActions(t) {
    const b = (name, label) => el('button', { class: 'sus-act', dataset: { act: name },
      onclick: () => act(`${label} ${t.quantity} ${t.item}`, () => send('POST', `transfers/${encodeURIComponent(t.id)}/${name}`, {})) }, label);
    switch (t.state) {
      case 'requested': return el('span', {}, b('approve', 'Approve'), b('reject', 'Deny'));
      case 'approved': return el('span', {}, b('ship', 'Ship'), b('reject', 'Deny'));
      case 'shipped': return b('receive', 'Receive');
      default: return '';
    }
  }

  refresh();
  setInterval(refresh, POLL_MS);
  return () => {
    enabled = true;
    refresh();
  };
}
