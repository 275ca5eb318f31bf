// Kizuna web map: wires the store, the live stream, the map layers and the
// panels together. Everything is loaded from this page's own origin.

import { addBaseMap, status as basemap } from './basemap.js';
import { ObjectLayer } from './layer.js';
import { MissileWarnings } from './missile.js';
import { ObjectList, renderDetail } from './panels.js';
import { Filter, Store } from './store.js';
import { Stream } from './stream.js';
import { startOps } from './ops.js';
import { startStaffTools } from './staff.js';
import { startSustain } from './sustain.js';
import { startCyber } from './cyber.js';
import { startMissions } from './missions.js';
import { ShapeLayer } from './shapes.js';

const L = globalThis.L;
const params = new URLSearchParams(location.search);
// How long a stale object stays on the map, fading, before it disappears.
const FADE_MS = Math.max(0, Number(params.get('fade') ?? 20)) * 1000;
// Minimum time between two map redraws while updates stream in. With many
// objects a frame costs more: the wait grows so that drawing never takes
// more than about a third of the main thread, which stays free for input.
const FRAME_MS = 50;
let frameCost = 0;

const store = new Store();
const filter = new Filter();

// Exposed for operators' scripting and for the browser tests: live counters
// and the delay from each update's event time to the frame that drew it.
// arrivals holds the delay from event time to the stream message arriving,
// which separates the server's share of latency from the page's.
const stats = { frames: 0, applied: 0, lastApplied: 0, latencies: [], arrivals: [], snapshots: 0, state: 'connecting' };
const LAT_KEEP = 200000;

const map = L.map('map', {
  center: [33.5, 131],
  zoom: 5,
  minZoom: 2,
  maxZoom: 16,
  worldCopyJump: true,
  attributionControl: true,
  preferCanvas: true,
});
map.attributionControl.setPrefix(false);
map.attributionControl.addAttribution('Natural Earth');
L.control.scale({ imperial: false }).addTo(map);

let selected = null;
const detailBox = document.getElementById('detail');

const layer = new ObjectLayer(store, filter, {
  fadeMs: FADE_MS,
  onDraw(now, visible, applied) {
    stats.frames++;
    if (applied.length) {
      stats.applied += applied.length;
      stats.lastApplied = now;
      for (const d of applied) stats.latencies.push(d);
      if (stats.latencies.length > LAT_KEEP) stats.latencies.splice(0, stats.latencies.length - LAT_KEEP);
    }
  },
}).addTo(map);

// Drawings (lines, areas, circles) as shapes under the symbols.
const shapes = new ShapeLayer(map, () => layer.store, filter);

// Choosing a row selects the object and brings it into view.
const list = new ObjectList(store, filter, {
  onSelect(uid) {
    const o = layer.store.objects.get(uid);
    if (o && !map.getBounds().pad(-0.1).contains([o.lat, o.lon])) map.panTo([o.lat, o.lon], { animate: false });
    select(uid);
  },
});
const missiles = new MissileWarnings(map, store, {
  onShow(uid, points) {
    if (points.length > 1) map.fitBounds(L.latLngBounds(points).pad(0.3));
    else if (points.length === 1) map.setView(points[0], Math.max(map.getZoom(), 7));
    select(uid);
  },
});

async function select(uid) {
  selected = uid;
  layer.selected = uid;
  layer.history = null;
  showDetail();
  list.mark(uid);
  requestDraw();
  if (!uid) return;
  try {
    const res = await fetch(`api/v1/objects/${encodeURIComponent(uid)}/history?limit=100`);
    if (!res.ok || selected !== uid) return;
    const body = await res.json();
    const pts = (body.points || []).map((p) => [p.lat, p.lon]).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (selected === uid) {
      layer.history = { uid, points: pts };
      requestDraw();
    }
  } catch {
    // History is a nicety; the live trail is still drawn.
  }
}

function showDetail() {
  const o = selected ? layer.store.objects.get(selected) : null;
  renderDetail(detailBox, o, { onClose: () => select(null) });
}

// Clicks on the map select the symbol under the pointer.
map.on('click', (ev) => {
  const uid = layer.hit(ev.containerPoint);
  select(uid);
});
map.on('mousemove', (ev) => {
  map.getContainer().style.cursor = layer.hit(ev.containerPoint) ? 'pointer' : '';
});

// Banners: the highest marking of everything the page holds.
const banners = [document.getElementById('banner-top'), document.getElementById('banner-bottom')];
function updateBanner() {
  const b = layer.store.banner(); // the replay's, while replaying
  for (const el of banners) {
    if (el.textContent !== b.text) el.textContent = b.text;
    el.dataset.level = b.level;
  }
}

// Drawing is batched: many updates, one frame.
let drawPending = false;
let lastDraw = 0;
let listDirty = true;
let lastList = 0;
function requestDraw() {
  if (drawPending) return;
  drawPending = true;
  const wait = Math.max(0, Math.max(FRAME_MS, 3 * frameCost) - (performance.now() - lastDraw));
  setTimeout(() => requestAnimationFrame(frame), wait);
}
function frame() {
  drawPending = false;
  const t0 = (lastDraw = performance.now());
  layer.redraw();
  shapes.sync();
  updateBanner();
  missiles.update();
  // The list and the detail panel follow at a calmer pace.
  if (listDirty && lastDraw - lastList > 400) {
    listDirty = false;
    lastList = lastDraw;
    list.refresh();
    if (selected) {
      if (layer.store.objects.has(selected)) showDetailIfChanged();
      else select(null);
    }
  } else if (listDirty) {
    requestDraw();
  }
  counts.textContent = `${store.objects.size} objects`;
  frameCost = 0.7 * frameCost + 0.3 * (performance.now() - t0);
  stats.frameCost = frameCost;
}
let detailVersion = null;
function showDetailIfChanged() {
  const o = layer.store.objects.get(selected);
  if (o && o !== detailVersion) {
    detailVersion = o;
    showDetail();
  }
}
const counts = document.getElementById('counts');

store.onChange(() => {
  listDirty = true;
  requestDraw();
});

// Stale objects fade each second and leave after the fade.
setInterval(() => {
  store.expire(Date.now(), FADE_MS);
  requestDraw();
}, 1000);

// Filters and search.
const $ = (id) => document.getElementById(id);
$('search').addEventListener('input', (e) => { filter.text = e.target.value.trim(); listDirty = true; requestDraw(); });
$('f-nation').addEventListener('change', (e) => { filter.nation = e.target.value; listDirty = true; requestDraw(); });
$('f-affil').addEventListener('change', (e) => { filter.affil = e.target.value; listDirty = true; requestDraw(); });
$('f-dim').addEventListener('change', (e) => { filter.dim = e.target.value; listDirty = true; requestDraw(); });

// Tabs.
for (const tab of document.querySelectorAll('[role=tab]')) {
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll('[role=tab]')) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      $(`pane-${t.dataset.tab}`).hidden = !on;
    }
  });
}

// Who am I.
async function whoami() {
  try {
    const res = await fetch('api/v1/whoami');
    if (!res.ok) return;
    const w = await res.json();
    const p = w.principal || {};
    $('whoami').textContent = `${p.nation || '?'} · ${p.clearance || '?'} @ ${w.node || 'node'}`;
    document.title = `Kizuna · ${p.nation || ''} · ${w.node || ''}`;
    stats.whoami = w;
    layer.nation = p.nation || '';
  } catch {
    // Shown again after the stream reconnects.
  }
}

const conn = $('conn');
const handlers = {
  onState(state) {
    stats.state = state;
    conn.dataset.state = state;
    conn.textContent = state;
  },
  onSnapshot(objects) {
    stats.snapshots++;
    store.replace(objects);
    if (stats.snapshots > 1) {
      whoami();
      reprobe();
    }
  },
  onUpsert(o, arrived = Date.now()) {
    store.upsert(o, arrived);
    stats.arrivals.push(arrived - o.timeMs);
    if (stats.arrivals.length > LAT_KEEP) stats.arrivals.splice(0, stats.arrivals.length - LAT_KEEP);
  },
  onDelete(uid) {
    store.delete(uid);
  },
};

// The stream runs in a worker where the browser allows it, else here.
function startStream() {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/v1/stream`;
  try {
    const w = new Worker(new URL('./stream-worker.js', import.meta.url), { type: 'module' });
    w.onmessage = (ev) => {
      const m = ev.data;
      if (m.kind === 'state') handlers.onState(m.state);
      else if (m.kind === 'snapshot') handlers.onSnapshot(m.objects);
      else if (m.kind === 'batch') {
        for (const [op, v] of m.ops) {
          if (op === 'u') handlers.onUpsert(v, v.arrived);
          else handlers.onDelete(v);
        }
      }
    };
    w.onerror = (ev) => {
      // The worker could not run: stream on the main thread instead.
      ev.preventDefault?.();
      w.terminate();
      new Stream(handlers).start();
    };
    w.postMessage({ kind: 'start', url });
    return w;
  } catch {
    const s = new Stream(handlers);
    s.start();
    return s;
  }
}

const staff = startStaffTools({
  map, store, filter, layer, list, select, requestDraw,
  whoami: () => stats.whoami,
  onStore() { listDirty = true; },
});
const cyber = startCyber({ map, store, detailBox, pane: $('pane-cyber'), tab: $('tab-cyber') });

const missions = startMissions({ map, pane: $('pane-missions'), tab: $('tab-missions'), selected: () => selected });

globalThis.kizuna = { map, store, filter, layer, stats, select, basemap, staff, cyber, missions, shapes };

addBaseMap(map)
  .catch((err) => console.warn('base map unavailable:', err))
  .finally(() => requestDraw());
whoami();
const reprobeOps = startOps(store);
const reprobeSustain = startSustain(store, { map, detailBox });
const reprobe = () => {
  reprobeOps();
  reprobeSustain();
};
startStream();
