// ObjectLayer draws every object of the store on one canvas above the base
// map: symbol, callsign label, heading vector and trail. One canvas for all
// objects keeps thousands of moving tracks cheap; clicks are hit-tested
// against the positions drawn last.

import { symbolFor } from './symbols.js';
import { opacity } from './store.js';
import { priority, Clusterer, Grid, placeLabels } from './declutter.js';

const L = globalThis.L;

// Above this many objects on screen, labels and trails are drawn only for
// the selected object, to keep the picture readable and the page responsive.
const CLUTTER = 800;
// When crowded, symbols closer than this to one already painted are not
// painted: they would be covered anyway.
const DECLUTTER_PX = 6;
// Below CLUSTER_BELOW zoom, symbols closer than CLUSTER_PX to a more
// important one (so that they would pile on it) are drawn as one cluster
// mark with their count and highest marking.
const CLUSTER_PX = 20;
const CLUSTER_WIDE_PX = 48;
const CROWDED_MARKS = 250;
const CLUSTER_BELOW = 14;
const LABEL_FONT = '11px system-ui, sans-serif';
const LEVEL_COLOURS = { UNCLASSIFIED: ['#007a33', '#fff'], CONFIDENTIAL: ['#0033a0', '#fff'], SECRET: ['#c8102e', '#fff'], 'TOP SECRET': ['#ff8c00', '#000'], UNMARKED: ['#ff8c00', '#000'] };

export const ObjectLayer = L.Layer.extend({
  initialize(store, filter, opts) {
    this.store = store;
    this.filter = filter;
    this.fadeMs = opts.fadeMs;
    this.onDraw = opts.onDraw || (() => {});
    this.selected = null;
    this.history = null; // {uid, points:[[lat,lon]]} fetched for the selected object
    this.drawn = new Map(); // uid -> {x, y, r} in container pixels, as last drawn
    this.frames = 0;
    this.clustering = opts.clustering ?? true;
    this.clusterBelow = CLUSTER_BELOW;
    this.nation = ''; // the principal's nation: own units' labels come before others'
    this.clock = null; // () => ms; the replay sets it, else Date.now
    this.clusters = []; // as last drawn: {x, y, r, count, uids, marking, level}
    this.labels = []; // as last drawn: {uid, text, x, y, w, h}
    this._widths = new Map(); // callsign -> text width in LABEL_FONT
    // Kept between frames: each object's absolute pixel position at the
    // current zoom (projected again only when the object changed), and
    // the clusters of the view, built once per pan or zoom and then
    // updated for the objects that moved, came or left.
    this._proj = new Map(); // uid -> {o, x, y}
    this._projZoom = null;
    this._clusterer = null;
    this._ckey = '';
    this._cstore = null;
    this._rebuild = true;
    this._cframe = 0;
  },

  onAdd(map) {
    this._map = map;
    const c = (this._canvas = L.DomUtil.create('canvas', 'kz-objects leaflet-zoom-hide'));
    c.style.pointerEvents = 'none';
    map.getPanes().overlayPane.appendChild(c);
    this._resize();
    map.on('move zoomend viewreset', this.redraw, this);
    map.on('moveend zoomend viewreset resize', this._recluster, this);
    map.on('resize', this._resize, this);
  },

  // _recluster makes the next frame cluster the view from scratch.
  _recluster() {
    this._rebuild = true;
  },

  onRemove(map) {
    L.DomUtil.remove(this._canvas);
    map.off('move zoomend viewreset', this.redraw, this);
    map.off('moveend zoomend viewreset resize', this._recluster, this);
    map.off('resize', this._resize, this);
  },

  _resize() {
    const size = this._map.getSize();
    const dpr = window.devicePixelRatio || 1;
    this._canvas.width = size.x * dpr;
    this._canvas.height = size.y * dpr;
    this._canvas.style.width = `${size.x}px`;
    this._canvas.style.height = `${size.y}px`;
    this.redraw();
  },

  redraw() {
    if (!this._map) return;
    const map = this._map;
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this._canvas, topLeft);
    const dpr = window.devicePixelRatio || 1;
    const g = this._canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const size = map.getSize();
    g.clearRect(0, 0, size.x, size.y);
    const now = this.clock ? this.clock() : Date.now();
    const bounds = map.getBounds().pad(0.1);
    const south = bounds.getSouth();
    const north = bounds.getNorth();
    const west = bounds.getWest();
    const east = bounds.getEast();
    const zoom = map.getZoom();
    const origin = map.getPixelOrigin();
    const offX = origin.x + topLeft.x;
    const offY = origin.y + topLeft.y;
    const proj = this._proj;
    if (zoom !== this._projZoom || proj.size > 2 * this.store.objects.size + 1000) {
      proj.clear();
      this._projZoom = zoom;
    }

    const visible = [];
    const abs = []; // absolute pixel positions of visible, at this zoom
    for (const o of this.store.objects.values()) {
      if (!(o.lat >= south && o.lat <= north && o.lon >= west && o.lon <= east) && o.uid !== this.selected) continue;
      if (!this.filter.matches(o)) continue;
      let e = proj.get(o.uid);
      if (!e || e.o !== o) {
        const p = map.project([o.lat, o.lon], zoom);
        e = { o, x: Math.round(p.x), y: Math.round(p.y) };
        proj.set(o.uid, e);
      }
      visible.push(o);
      abs.push(e);
    }
    const busy = visible.length > CLUTTER;
    const drawn = new Map();
    const applied = []; // ms from each update's event time to this frame

    // Trails first, under the symbols.
    g.lineWidth = 1.5;
    g.strokeStyle = 'rgba(30,40,60,0.55)';
    for (const o of visible) {
      if (busy && o.uid !== this.selected) continue;
      const pts = this.history && this.history.uid === o.uid ? this.history.points.concat(o.trail) : o.trail;
      if (pts.length < 2) continue;
      g.globalAlpha = opacity(o, now, this.fadeMs);
      g.beginPath();
      for (let i = 0; i < pts.length; i++) {
        const p = map.latLngToContainerPoint(pts[i]);
        if (i === 0) g.moveTo(p.x, p.y);
        else g.lineTo(p.x, p.y);
      }
      g.stroke();
    }

    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'middle';
    // Pass 1: positions and opacity.
    const pos = new Array(visible.length);
    const alpha = new Array(visible.length);
    for (let i = 0; i < visible.length; i++) {
      pos[i] = { x: abs[i].x - offX, y: abs[i].y - offY };
      alpha[i] = opacity(visible[i], now, this.fadeMs);
    }

    // Pass 2: aggregation. Below clusterBelow, objects sharing a screen
    // cell become one cluster mark (flash tracks and the selection never
    // do); else, when crowded, a symbol whose centre falls within
    // DECLUTTER_PX of one already drawn is placed (for clicks) but not
    // painted.
    const clustered = this.clustering && zoom < this.clusterBelow && visible.length > 1;
    let singles;
    let clusters = [];
    if (clustered) {
      ({ singles, clusters } = this._clusters(visible, abs, zoom));
      // Back to this frame's container pixels.
      const alphaOf = new Map();
      for (let i = 0; i < visible.length; i++) alphaOf.set(visible[i].uid, alpha[i]);
      const here = (it) => ({ o: it.o, x: it.x - offX, y: it.y - offY, pri: it.pri, a: alphaOf.get(it.o.uid) ?? 1 });
      singles = singles.map(here);
      for (const c of clusters) {
        c.x -= offX;
        c.y -= offY;
        c.members = c.members.map(here);
      }
    } else {
      singles = new Array(visible.length);
      for (let i = 0; i < visible.length; i++) {
        const o = visible[i];
        singles[i] = { o, x: pos[i].x, y: pos[i].y, pri: o.uid === this.selected ? -1 : priority(o, this.nation), a: alpha[i] };
      }
    }
    // Heading vectors of the symbols drawn (not of those hidden in a
    // cluster), under the symbols. Vectors of current objects go into one
    // path with one stroke (thousands of strokes cost more than everything
    // else in a frame); those of fading objects are drawn alone.
    g.strokeStyle = '#111';
    g.lineWidth = 2;
    g.globalAlpha = 1;
    g.beginPath();
    for (const it of singles) {
      const o = it.o;
      if (typeof o.course !== 'number' || !Number.isFinite(o.course)) continue;
      const len = 18 + Math.min(30, (o.speed || 0) / 10);
      const rad = (o.course * Math.PI) / 180;
      const x2 = it.x + Math.sin(rad) * len;
      const y2 = it.y - Math.cos(rad) * len;
      if (it.a === 1) {
        g.moveTo(it.x, it.y);
        g.lineTo(x2, y2);
      } else {
        g.stroke();
        g.globalAlpha = it.a;
        g.beginPath();
        g.moveTo(it.x, it.y);
        g.lineTo(x2, y2);
        g.stroke();
        g.globalAlpha = 1;
        g.beginPath();
      }
    }
    g.stroke();

    const grid = new Grid();
    g.font = 'bold 11px system-ui, sans-serif';
    g.textAlign = 'center';
    // Cluster marks: the count, ringed in the colour of the highest
    // classification they hide, with its abbreviation; the full marking
    // of what they hide is a tag placed like a label, where it fits.
    const tags = [];
    for (const c of clusters) {
      c.r = 12 + Math.min(8, 1.5 * Math.log2(c.count));
      const [bg, fg] = LEVEL_COLOURS[c.level] || LEVEL_COLOURS.UNMARKED;
      g.globalAlpha = 1;
      g.beginPath();
      g.arc(c.x, c.y, c.r, 0, Math.PI * 2);
      g.fillStyle = c.hostile ? 'rgba(255,128,128,0.95)' : 'rgba(128,224,255,0.95)';
      g.fill();
      g.lineWidth = 3;
      g.strokeStyle = bg;
      g.stroke();
      g.fillStyle = '#111';
      g.font = 'bold 11px system-ui, sans-serif';
      g.fillText(String(c.count), c.x, c.y - 3);
      g.font = 'bold 8px system-ui, sans-serif';
      g.fillText(c.marking.split('//')[0], c.x, c.y + 7);
      const sym = { x: c.x - c.r - 1.5, y: c.y - c.r - 1.5, w: 2 * c.r + 3, h: 2 * c.r + 3 };
      grid.add(sym);
      g.font = 'bold 9px system-ui, sans-serif';
      tags.push({ o: { uid: `cluster:${tags.length}` }, x: c.x, y: c.y, pri: 9, sym, text: c.marking, w: g.measureText(c.marking).width + 2, tag: [bg, fg] });
      for (const m of c.members) {
        drawn.set(m.o.uid, { x: m.x, y: m.y, r: 0, alpha: m.a, hidden: true, cluster: true });
        if (m.o.dirty) {
          applied.push(now - m.o.timeMs);
          m.o.dirty = false;
        }
      }
      c.members = undefined;
    }
    g.textAlign = 'start';
    g.font = LABEL_FONT;
    // The most important symbols are painted last, on top.
    if (clustered) singles.sort((a, b) => b.pri - a.pri);
    const cols = Math.ceil(size.x / DECLUTTER_PX) + 2;
    const rows = Math.ceil(size.y / DECLUTTER_PX) + 2;
    const taken = busy && !clustered ? new Uint8Array(cols * rows) : null;
    const labelled = [];
    for (const it of singles) {
      const o = it.o;
      const p = it;
      const a = it.a;
      const s = symbolFor(o.sidc);
      if (taken && o.uid !== this.selected) {
        const cx = Math.floor(p.x / DECLUTTER_PX) + 1;
        const cy = Math.floor(p.y / DECLUTTER_PX) + 1;
        const cell = cx >= 0 && cy >= 0 && cx < cols && cy < rows ? cy * cols + cx : -1;
        if (cell >= 0 && taken[cell]) {
          drawn.set(o.uid, { x: p.x, y: p.y, r: Math.max(s.w, s.h) / 2 + 2, alpha: a, hidden: true });
          if (o.dirty) {
            applied.push(now - o.timeMs);
            o.dirty = false;
          }
          continue;
        }
        if (cell >= 0) taken[cell] = 1;
      }
      if (g.globalAlpha !== a) g.globalAlpha = a;
      // Whole pixels, unscaled: the rasteriser's fast path (a plain copy,
      // no resampling), which matters with thousands of symbols.
      const sx = Math.round(p.x - s.anchor.x);
      const sy = Math.round(p.y - s.anchor.y);
      if (s.canvas.width === s.w) g.drawImage(s.image, sx, sy);
      else g.drawImage(s.image, sx, sy, s.w, s.h);
      if (o.uid === this.selected) {
        g.strokeStyle = '#ffd400';
        g.lineWidth = 2;
        g.strokeRect(p.x - s.anchor.x - 3, p.y - s.anchor.y - 3, s.w + 6, s.h + 6);
      }
      const sym = { x: sx, y: sy, w: s.w, h: s.h };
      grid.add(sym);
      if (o.callsign && (!taken || o.uid === this.selected)) labelled.push({ o, x: p.x, y: p.y, pri: p.pri, a, sym, text: o.callsign, w: this._width(g, o.callsign) });
      drawn.set(o.uid, { x: p.x, y: p.y, r: Math.max(s.w, s.h) / 2 + 2, alpha: a });
      if (o.dirty) {
        applied.push(now - o.timeMs);
        o.dirty = false;
      }
    }
    // Labels, most important first; one that would overlap another label
    // or a symbol is moved round its symbol, else hidden.
    const tagOf = new Map(tags.map((t) => [t.o.uid, t.tag]));
    const placed = placeLabels(labelled.concat(tags), grid);
    const labels = placed.filter((l) => !tagOf.has(l.uid));
    g.font = 'bold 9px system-ui, sans-serif';
    g.textAlign = 'center';
    for (const l of placed) {
      const t = tagOf.get(l.uid);
      if (!t) continue;
      g.globalAlpha = 1;
      g.fillStyle = t[0];
      g.fillRect(l.x, l.y + 1, l.w, l.h - 2);
      g.fillStyle = t[1];
      g.fillText(l.text, l.x + l.w / 2, l.y + l.h / 2);
    }
    g.textAlign = 'start';
    g.font = LABEL_FONT;
    const alphaOf = new Map(labelled.map((it) => [it.o.uid, it.a]));
    g.lineWidth = 3;
    g.strokeStyle = 'rgba(255,255,255,0.85)';
    g.fillStyle = '#111';
    g.textBaseline = 'middle';
    for (const l of labels) {
      const a = alphaOf.get(l.uid) ?? 1;
      if (g.globalAlpha !== a) g.globalAlpha = a;
      g.strokeText(l.text, l.x + 2, l.y + l.h / 2);
      g.fillText(l.text, l.x + 2, l.y + l.h / 2);
    }
    this.clusters = clusters;
    this.labels = labels;
    g.globalAlpha = 1;
    this.drawn = drawn;
    this.frames++;
    this.onDraw(now, visible, applied);
  },

  // _clusters returns the view's {singles, clusters} in absolute pixels:
  // clustered from scratch after a pan, a zoom, a change of filter,
  // selection or store; else updated for the objects that changed, came
  // into view or left it since the last frame.
  _clusters(visible, abs, zoom) {
    const f = this.filter;
    const key = `${zoom}|${f.text}|${f.nation}|${f.affil}|${f.dim}|${this.selected}|${this.nation}`;
    const item = (o, e) => ({ o, x: e.x, y: e.y, pri: o.uid === this.selected ? -1 : priority(o, this.nation) });
    let cl = this._clusterer;
    if (!cl || this._rebuild || key !== this._ckey || this._cstore !== this.store) {
      const items = visible.map((o, i) => item(o, abs[i]));
      cl = new Clusterer(CLUSTER_PX, this.selected);
      cl.build(items);
      // Still crowded (the marks alone would cover the screen): aggregate
      // over a wider radius, so that marks stop piling on each other.
      if (cl.entries.size - [...cl.seeds].reduce((n, s) => n + s.members.size - 1, 0) > CROWDED_MARKS) {
        cl = new Clusterer(CLUSTER_WIDE_PX, this.selected);
        cl.build(items);
      }
      this._clusterer = cl;
      this._ckey = key;
      this._cstore = this.store;
      this._rebuild = false;
      this.fullClusters = (this.fullClusters || 0) + 1;
      return cl.result();
    }
    const stamp = ++this._cframe;
    for (let i = 0; i < visible.length; i++) {
      const o = visible[i];
      let e = cl.entries.get(o.uid);
      if (!e || e.it.o !== o) {
        cl.update(item(o, abs[i]));
        e = cl.entries.get(o.uid);
      }
      e.seen = stamp;
    }
    const gone = [];
    for (const [uid, e] of cl.entries) if (e.seen !== stamp) gone.push(uid);
    for (const uid of gone) cl.remove(uid);
    return cl.result();
  },

  _width(g, text) {
    let w = this._widths.get(text);
    if (w === undefined) {
      if (this._widths.size > 20000) this._widths.clear();
      w = g.measureText(text).width;
      this._widths.set(text, w);
    }
    return w;
  },

  // hitCluster returns the cluster mark under a container point, if any.
  hitCluster(pt) {
    for (const c of this.clusters) {
      const dx = c.x - pt.x;
      const dy = c.y - pt.y;
      if (dx * dx + dy * dy <= c.r * c.r) return c;
    }
    return null;
  },

  // hit returns the uid of the object drawn nearest to a container point, if
  // the point falls on its symbol.
  hit(pt) {
    let best = null;
    let bestD = Infinity;
    for (const [uid, d] of this.drawn) {
      const dx = d.x - pt.x;
      const dy = d.y - pt.y;
      const dist = dx * dx + dy * dy;
      if (!d.cluster && dist <= d.r * d.r && dist < bestD) {
        best = uid;
        bestD = dist;
      }
    }
    return best;
  },
});
