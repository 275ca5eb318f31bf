// Timeline: replays the picture from the node's history (GET
// /api/v1/replay, label-filtered by the server exactly like the live
// stream) for the last hours, with play, pause, speed and back to live.
// While replaying, the map, the list and the banner show a replay store
// built for the replay time; the live store keeps receiving the stream
// underneath. The selected object's trail is its history up to that time.

import { Store } from './store.js';
import { el } from './panels.js';

const L = globalThis.L;

// ReplayIndex holds history rows by uid, oldest first, and answers the
// picture at a time: each uid's latest row at or before it, unless stale.
export class ReplayIndex {
  constructor(rows) {
    this.byUID = new Map();
    this.start = Infinity;
    this.end = -Infinity;
    for (const r of rows) {
      let a = this.byUID.get(r.uid);
      if (!a) this.byUID.set(r.uid, (a = []));
      a.push(r);
      if (r.t < this.start) this.start = r.t;
      if (r.t > this.end) this.end = r.t;
    }
    for (const a of this.byUID.values()) a.sort((x, y) => x.t - y.t);
    this.rows = rows.length;
  }

  // at returns the rows current at time t (ms).
  at(t) {
    const out = [];
    for (const a of this.byUID.values()) {
      let lo = 0;
      let hi = a.length - 1;
      let k = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (a[mid].t <= t) {
          k = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (k >= 0 && a[k].stale > t) out.push(a[k]);
    }
    return out;
  }

  // trail returns the positions of uid up to time t.
  trail(uid, t) {
    const a = this.byUID.get(uid) || [];
    const out = [];
    for (const r of a) {
      if (r.t > t) break;
      out.push([r.lat, r.lon]);
    }
    return out;
  }
}

// rowsOf expands the compact answer of /api/v1/replay: rows
// [track, t, stale, lat, lon, label] naming tracks [uid, type, sidc,
// callsign] and labels by index.
export function rowsOf(body) {
  const labels = body.labels || [];
  const tracks = (body.tracks || []).map(([uid, type, sidc, callsign]) => ({ uid, type, sidc, callsign }));
  const rows = body.rows || [];
  const out = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const [k, t, stale, lat, lon, l] = rows[i];
    const tr = tracks[k];
    out[i] = { uid: tr.uid, type: tr.type, sidc: tr.sidc, callsign: tr.callsign, t, stale, lat, lon, label: labels[l] };
  }
  return out;
}

function objectOf(r) {
  return {
    uid: r.uid, type: r.type, sidc: r.sidc, callsign: r.callsign || '', lat: r.lat, lon: r.lon, how: 'replay',
    time: new Date(r.t).toISOString(), stale: new Date(r.stale).toISOString(), label: r.label, replay: true,
  };
}

const SPEEDS = [1, 10, 60, 300];

export class Timeline {
  // ctx: {map, live, layer, list, requestDraw, onStore(store)}
  constructor(ctx) {
    this.ctx = ctx;
    this.index = null;
    this.t = 0;
    this.speed = 60;
    this.timer = null;
    this.active = false;
    this.lastLoadMs = 0;
    this._build();
  }

  _build() {
    const stop = (e) => L.DomEvent.disableClickPropagation(e);
    this.hours = el('select', { id: 'tl-hours', title: 'Replay window', 'aria-label': 'Replay window' },
      el('option', { value: '1' }, 'last 1 h'), el('option', { value: '3', selected: true }, 'last 3 h'), el('option', { value: '6' }, 'last 6 h'));
    this.replayBtn = el('button', { id: 'tl-replay', type: 'button', onclick: () => this.enter(Number(this.hours.value)) }, 'Replay');
    this.slider = el('input', { id: 'tl-slider', type: 'range', min: 0, max: 1000, value: 1000, 'aria-label': 'Replay time', disabled: true });
    this.slider.addEventListener('input', () => this.seek(this._sliderTime()));
    this.playBtn = el('button', { id: 'tl-play', type: 'button', disabled: true, 'aria-pressed': 'false', onclick: () => (this.timer ? this.pause() : this.play()) }, 'Play');
    this.speedSel = el('select', { id: 'tl-speed', title: 'Replay speed', 'aria-label': 'Replay speed', disabled: true },
      SPEEDS.map((s) => el('option', { value: String(s), selected: s === this.speed }, `${s}×`)));
    this.speedSel.addEventListener('change', () => { this.speed = Number(this.speedSel.value); });
    this.liveBtn = el('button', { id: 'tl-live', type: 'button', disabled: true, onclick: () => this.live() }, 'Back to live');
    this.readout = el('span', { id: 'tl-time', class: 'tl-time', 'aria-live': 'polite' }, 'live');
    this.box = el('div', { id: 'timeline', class: 'kz-timeline', role: 'group', 'aria-label': 'Timeline' },
      this.hours, this.replayBtn, this.slider, this.playBtn, this.speedSel, this.liveBtn, this.readout);
    stop(this.box);
    L.DomEvent.disableScrollPropagation(this.box);
    this.ctx.map.getContainer().appendChild(this.box);
  }

  _sliderTime() {
    const f = Number(this.slider.value) / 1000;
    return this.since + f * (this.until - this.since);
  }

  // enter loads the last hours of history and shows the picture at their
  // start. It resolves with the load time in ms.
  async enter(hours = 3) {
    const t0 = performance.now();
    const until = Date.now();
    const since = until - hours * 3600e3;
    // At most one row per object per step keeps a long window small.
    const step = `${Math.max(10, Math.round((hours * 3600) / 60))}s`;
    const q = `since=${new Date(since).toISOString()}&until=${new Date(until + 1000).toISOString()}&step=${step}`;
    this.readout.textContent = 'loading…';
    const res = await fetch(`api/v1/replay?${q}`);
    if (!res.ok) {
      this.readout.textContent = `replay unavailable (${res.status})`;
      return -1;
    }
    const body = await res.json();
    this.index = new ReplayIndex(rowsOf(body));
    this.since = since;
    this.until = until;
    this.active = true;
    for (const c of [this.slider, this.playBtn, this.speedSel, this.liveBtn]) c.disabled = false;
    this.box.classList.add('replaying');
    document.body.classList.add('replaying');
    this.seek(Number.isFinite(this.index.start) ? Math.max(since, this.index.start) : since);
    this.lastLoadMs = performance.now() - t0;
    return this.lastLoadMs;
  }

  // seek shows the picture at time t (ms).
  seek(t) {
    if (!this.index) return;
    this.t = Math.min(this.until, Math.max(this.since, t));
    this.slider.value = String(Math.round(((this.t - this.since) / (this.until - this.since)) * 1000));
    const s = new Store();
    s.replace(this.index.at(this.t).map(objectOf), this.t);
    for (const o of s.objects.values()) o.dirty = false; // not live updates: no latency sample
    this.store = s;
    const { layer, list } = this.ctx;
    layer.clock = () => this.t;
    const sel = layer.selected;
    layer.history = sel ? { uid: sel, points: this.index.trail(sel, this.t) } : null;
    this.ctx.onStore(s);
    list.sortedKey = null;
    this.readout.textContent = `REPLAY ${new Date(this.t).toISOString().replace('T', ' ').slice(0, 19)}Z`;
    this.ctx.requestDraw();
  }

  play() {
    if (!this.index) return;
    if (this.t >= this.until) this.seek(this.since);
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const next = this.t + (now - last) * this.speed;
      last = now;
      this.seek(next);
      if (this.t >= this.until) this.pause();
    }, 250);
    this.playBtn.textContent = 'Pause';
    this.playBtn.setAttribute('aria-pressed', 'true');
  }

  pause() {
    clearInterval(this.timer);
    this.timer = null;
    this.playBtn.textContent = 'Play';
    this.playBtn.setAttribute('aria-pressed', 'false');
  }

  // live returns to the live picture.
  live() {
    this.pause();
    this.active = false;
    this.index = null;
    this.store = null;
    for (const c of [this.slider, this.playBtn, this.speedSel, this.liveBtn]) c.disabled = true;
    this.slider.value = '1000';
    this.box.classList.remove('replaying');
    document.body.classList.remove('replaying');
    this.readout.textContent = 'live';
    this.ctx.layer.clock = null;
    this.ctx.layer.history = null;
    this.ctx.onStore(this.ctx.live);
    this.ctx.list.sortedKey = null;
    this.ctx.requestDraw();
  }
}
