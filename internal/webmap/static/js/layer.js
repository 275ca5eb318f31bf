// ObjectLayer draws every object of the store on one canvas above the base
// map: symbol, callsign label, heading vector and trail. One canvas for all
// objects keeps thousands of moving tracks cheap; clicks are hit-tested
// against the positions drawn last.

import { symbolFor } from './symbols.js';
import { opacity, TRAIL_MAX } from './store.js';
import { priority, Clusterer, RectGrid } from './declutter.js';

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

// The padding round a label's text in its sprite (room for the halo).
const LABEL_PAD = 4;
const SPRITES_MAX = 4000;
const markSprites = new Map(); // count|level|hostile|abbreviation -> {canvas, o, w}
const labelSprites = new Map(); // callsign -> {canvas, w, h}
const tagSprites = new Map(); // marking|level -> {canvas, w}

// sprite returns a canvas of w × h CSS pixels at the device's pixel ratio
// and its context, scaled to CSS pixels.
function sprite(w, h) {
  const dpr = globalThis.devicePixelRatio || 1;
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(w * dpr);
  canvas.height = Math.ceil(h * dpr);
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  return [canvas, g];
}

// measurer is one context for measuring text, shared by the sprites.
let measurer = null;
function measure(font, text) {
  if (!measurer) measurer = document.createElement('canvas').getContext('2d');
  if (measurer.font !== font) measurer.font = font;
  return measurer.measureText(text).width;
}

function cached(cache, key, make) {
  let s = cache.get(key);
  if (!s) {
    if (cache.size >= SPRITES_MAX) cache.clear();
    s = make();
    cache.set(key, s);
  }
  return s;
}

// markSprite is a cluster's mark: its count in a disc of radius r (red
// when it hides a hostile), ringed in the colour of the highest
// classification it hides, with that classification's abbreviation.
function markSprite(n, r, mark) {
  const abbr = mark.marking.split('//')[0];
  return cached(markSprites, `${n}|${mark.level}|${mark.hostile ? 1 : 0}|${abbr}`, () => {
    const o = Math.ceil(r + 3);
    const [canvas, g] = sprite(2 * o, 2 * o);
    const [bg] = LEVEL_COLOURS[mark.level] || LEVEL_COLOURS.UNMARKED;
    g.beginPath();
    g.arc(o, o, r, 0, Math.PI * 2);
    g.fillStyle = mark.hostile ? 'rgba(255,128,128,0.95)' : 'rgba(128,224,255,0.95)';
    g.fill();
    g.lineWidth = 3;
    g.strokeStyle = bg;
    g.stroke();
    g.fillStyle = '#111';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.font = 'bold 11px system-ui, sans-serif';
    g.fillText(String(n), o, o - 3);
    g.font = 'bold 8px system-ui, sans-serif';
    g.fillText(abbr, o, o + 7);
    return { canvas, o, w: 2 * o };
  });
}

// labelSprite is a callsign in the label font, haloed in white.
function labelSprite(text) {
  return cached(labelSprites, text, () => {
    const w = Math.ceil(measure(LABEL_FONT, text)) + 2 * LABEL_PAD;
    const h = 17;
    const [canvas, g] = sprite(w, h);
    g.font = LABEL_FONT;
    g.textBaseline = 'middle';
    g.lineWidth = 3;
    g.strokeStyle = 'rgba(255,255,255,0.85)';
    g.fillStyle = '#111';
    g.strokeText(text, LABEL_PAD, h / 2);
    g.fillText(text, LABEL_PAD, h / 2);
    return { canvas, w, h };
  });
}

// tagSprite is a cluster's marking tag: the marking on the colour of its
// level; w is the width placed (the text's and 6 pixels).
function tagSprite(marking, level) {
  return cached(tagSprites, `${marking}|${level}`, () => {
    const w = measure('bold 9px system-ui, sans-serif', marking) + 6;
    const h = 11;
    const [canvas, g] = sprite(w, h);
    const [bg, fg] = LEVEL_COLOURS[level] || LEVEL_COLOURS.UNMARKED;
    g.fillStyle = bg;
    g.fillRect(0, 0, w, h);
    g.fillStyle = fg;
    g.font = 'bold 9px system-ui, sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(marking, w / 2, h / 2);
    return { canvas, w };
  });
}

// ClusterView is a cluster mark as last drawn, in container pixels:
// {x, y, r, count, level, marking, hostile, uids}.
class ClusterView {
  #seed;

  constructor(seed) {
    this.#seed = seed;
    this.x = 0;
    this.y = 0;
    this.r = 0;
    this.count = 0;
    this.level = '';
    this.marking = '';
    this.hostile = false;
  }

  get uids() {
    return [...this.#seed.members.keys()];
  }
}

// newEntry is what the layer keeps of one object between frames.
function newEntry(o) {
  return {
    uid: o.uid, o: null, x: 0, y: 0, z: NaN, cx: 0, cy: 0, a: 1, pri: 4, gen: -1, moved: true, cseed: null,
    inDrawn: false, sym: -1, symX: 0, symY: 0, symW: 0, symH: 0,
    tp: null, tv: null, tz: NaN, th: null, tn: 0, // trail, projected
    d: { uid: o.uid, x: 0, y: 0, r: 0, alpha: 1, hidden: false, cluster: false, seen: 0 }, // its record in drawn
  };
}

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
    // Kept between frames, so that a frame allocates next to nothing: an
    // entry per object (its absolute pixel position at the current zoom,
    // projected again only when the object changed, its record in drawn,
    // its projected trail), the clusters of the view (built once per pan
    // or zoom, then updated for the objects that moved, came or left),
    // and the frame's buffers.
    this._ents = new Map(); // uid -> entry (newEntry)
    this._key = '';
    this._keyGen = 0;
    this._stamp = 0;
    this._clusterer = null;
    this._cstore = null;
    this._rebuild = true;
    this._vis = [];
    this._byPri = [[], [], [], [], [], []]; // by priority + 1: selection, flash, hostile, own, friends, rest
    this._labelled = [];
    this._applied = [];
    this._gone = [];
    this._taken = null;
    this._symGrid = new RectGrid(48);
    this._labelGrid = new RectGrid(48);
    this._labelPool = [];
    this._px = 0;
    this._py = 0;
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

  // Long on purpose: one frame, in drawing order; the steps share the
  // frame's reused buffers.
  redraw() {
    if (!this._map) return;
    const map = this._map;
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this._canvas, topLeft);
    const dpr = window.devicePixelRatio || 1;
    const g = this._g || (this._g = this._canvas.getContext('2d'));
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const size = map.getSize();
    g.clearRect(0, 0, size.x, size.y);
    const now = this.clock ? this.clock() : Date.now();
    const zoom = map.getZoom();
    const origin = map.getPixelOrigin();
    const offX = origin.x + topLeft.x;
    const offY = origin.y + topLeft.y;
    const vis = this._project(map, zoom, now, offX, offY);
    const busy = vis.length > CLUTTER;
    const stamp = this._stamp;
    const applied = this._applied;
    applied.length = 0;

    // Aggregation. Below clusterBelow, objects that would pile up become
    // one cluster mark (flash tracks and the selection never do); else,
    // when crowded, a symbol whose centre falls within DECLUTTER_PX of one
    // already drawn is placed (for clicks) but not painted.
    const clustered = this.clustering && zoom < this.clusterBelow && vis.length > 1;
    const cl = clustered ? this._cluster(vis) : null;
    if (!clustered) this._clusterer = null;
    // Singles by priority (least important first, painted under the rest).
    const byPri = this._byPri;
    for (const b of byPri) b.length = 0;
    for (const e of vis) {
      const s = cl ? e.cseed : null;
      if (s && s.members.size > 1) continue;
      byPri[e.pri + 1].push(e);
    }

    this._trails(g, map, byPri, busy);
    this._vectors(g, byPri);

    const symbols = this._symGrid;
    symbols.clear(size.x, size.y);
    const clusters = this.clusters;
    clusters.length = 0;
    if (cl) this._marks(g, cl, offX, offY, symbols);

    // Symbols, the most important painted last, on top.
    const cols = Math.ceil(size.x / DECLUTTER_PX) + 2;
    const rows = Math.ceil(size.y / DECLUTTER_PX) + 2;
    let taken = null;
    if (busy && !clustered) {
      if (!this._taken || this._taken.length < cols * rows) this._taken = new Uint8Array(cols * rows);
      taken = this._taken;
      taken.fill(0);
    }
    const labelled = this._labelled;
    labelled.length = 0;
    for (let p = byPri.length - 1; p >= 0; p--) {
      for (const e of byPri[p]) {
        const o = e.o;
        const d = e.d;
        const s = symbolFor(o.sidc);
        d.x = e.cx;
        d.y = e.cy;
        d.r = Math.max(s.w, s.h) / 2 + 2;
        d.alpha = e.a;
        d.cluster = false;
        d.hidden = false;
        if (taken && o.uid !== this.selected) {
          const cx = Math.floor(e.cx / DECLUTTER_PX) + 1;
          const cy = Math.floor(e.cy / DECLUTTER_PX) + 1;
          const cell = cx >= 0 && cy >= 0 && cx < cols && cy < rows ? cy * cols + cx : -1;
          if (cell >= 0 && taken[cell]) {
            d.hidden = true;
            continue;
          }
          if (cell >= 0) taken[cell] = 1;
        }
        if (g.globalAlpha !== e.a) g.globalAlpha = e.a;
        // Whole pixels, unscaled: the rasteriser's fast path (a plain copy,
        // no resampling), which matters with thousands of symbols.
        const sx = Math.round(e.cx - s.anchor.x);
        const sy = Math.round(e.cy - s.anchor.y);
        if (s.canvas.width === s.w) g.drawImage(s.image, sx, sy);
        else g.drawImage(s.image, sx, sy, s.w, s.h);
        if (o.uid === this.selected) {
          g.strokeStyle = '#ffd400';
          g.lineWidth = 2;
          g.strokeRect(e.cx - s.anchor.x - 3, e.cy - s.anchor.y - 3, s.w + 6, s.h + 6);
        }
        e.sym = symbols.add(sx, sy, s.w, s.h);
        e.symX = sx;
        e.symY = sy;
        e.symW = s.w;
        e.symH = s.h;
        if (o.callsign && (!taken || o.uid === this.selected)) labelled.push(e);
      }
    }
    // Every object in view is in drawn, as drawn in this frame; the
    // latency of each update is taken when it is first drawn.
    const drawn = this.drawn;
    for (const e of vis) {
      if (!e.inDrawn) {
        drawn.set(e.uid, e.d);
        e.inDrawn = true;
      }
      const o = e.o;
      if (o.dirty) {
        applied.push(now - o.timeMs);
        o.dirty = false;
      }
    }
    for (const d of drawn.values()) {
      if (d.seen !== stamp) {
        drawn.delete(d.uid);
        const e = this._ents.get(d.uid);
        if (e) e.inDrawn = false;
      }
    }
    this._labels(g, labelled, clusters, symbols, size);
    g.globalAlpha = 1;
    this.frames++;
    this.onDraw(now, vis, applied);
  },

  // _project returns the entries of the objects in view (and the
  // selection), each with its absolute pixel position at this zoom
  // (computed again only when the object changed), its container position
  // and opacity. An entry is kept per object between frames; moved tells
  // whether the object changed since the last frame.
  _project(map, zoom, now, offX, offY) {
    const bounds = map.getBounds().pad(0.1);
    const south = bounds.getSouth();
    const north = bounds.getNorth();
    const west = bounds.getWest();
    const east = bounds.getEast();
    const f = this.filter;
    const key = `${zoom}|${f.text}|${f.nation}|${f.affil}|${f.dim}|${this.selected}|${this.nation}`;
    if (key !== this._key || this._cstore !== this.store) {
      this._key = key;
      this._cstore = this.store;
      this._keyGen++;
      this._rebuild = true;
    }
    const gen = this._keyGen;
    const stamp = ++this._stamp;
    const ents = this._ents;
    const objects = this.store.objects;
    if (ents.size > objects.size + 2000) {
      for (const uid of ents.keys()) if (!objects.has(uid)) ents.delete(uid);
    }
    const mercator = map.options.crs === L.CRS.EPSG3857;
    const scale = 256 * 2 ** zoom;
    const sel = this.selected;
    const vis = this._vis;
    vis.length = 0;
    for (const o of objects.values()) {
      if (!(o.lat >= south && o.lat <= north && o.lon >= west && o.lon <= east) && o.uid !== sel) continue;
      if (!f.matches(o)) continue;
      let e = ents.get(o.uid);
      if (!e) {
        e = newEntry(o);
        ents.set(o.uid, e);
      }
      if (e.o !== o || e.z !== zoom) {
        if (mercator) {
          const lat = Math.max(-85.0511287798, Math.min(85.0511287798, o.lat));
          const sin = Math.sin((lat * Math.PI) / 180);
          e.x = Math.round(scale * (o.lon / 360 + 0.5));
          e.y = Math.round(scale * (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)));
        } else {
          const p = map.project([o.lat, o.lon], zoom);
          e.x = Math.round(p.x);
          e.y = Math.round(p.y);
        }
        e.o = o;
        e.z = zoom;
        e.moved = true;
        e.gen = -1;
      } else {
        e.moved = false;
      }
      if (e.gen !== gen) {
        e.gen = gen;
        e.pri = o.uid === sel ? -1 : priority(o, this.nation);
        e.moved = true;
      }
      e.cx = e.x - offX;
      e.cy = e.y - offY;
      e.a = opacity(o, now, this.fadeMs);
      e.d.seen = stamp;
      vis.push(e);
    }
    return vis;
  },

  // _cluster returns the view's clusterer, clustered from scratch after a
  // pan, a zoom, a change of filter, selection or store; else updated for
  // the objects that changed, came into view or left it since the last
  // frame.
  _cluster(vis) {
    let cl = this._clusterer;
    if (!cl || this._rebuild) {
      cl = new Clusterer(CLUSTER_PX, this.selected);
      cl.build(vis);
      // Still crowded (the marks alone would cover the screen): aggregate
      // over a wider radius, so that marks stop piling on each other.
      let marks = cl.entries.size;
      for (const s of cl.seeds) marks -= s.members.size - 1;
      if (marks > CROWDED_MARKS) {
        cl = new Clusterer(CLUSTER_WIDE_PX, this.selected);
        cl.build(vis);
      }
      this._clusterer = cl;
      this._rebuild = false;
      this.fullClusters = (this.fullClusters || 0) + 1;
      return cl;
    }
    const stamp = this._stamp;
    for (const e of vis) if (e.moved || !cl.entries.has(e.uid)) cl.update(e);
    const gone = this._gone;
    gone.length = 0;
    for (const ce of cl.entries.values()) if (ce.it.d.seen !== stamp) gone.push(ce.it.uid);
    for (const uid of gone) cl.remove(uid);
    return cl;
  },

  // _trails draws the trails of the symbols drawn (all of them when the
  // view is not crowded, else the selection's), under the symbols: those
  // of current objects in one path. Trail points are projected once per
  // object version and zoom.
  _trails(g, map, byPri, busy) {
    g.lineWidth = 1.5;
    g.strokeStyle = 'rgba(30,40,60,0.55)';
    g.globalAlpha = 1;
    const zoom = map.getZoom();
    let open = false;
    for (const b of byPri) {
      for (const e of b) {
        const o = e.o;
        if (busy && o.uid !== this.selected) continue;
        const hist = this.history && this.history.uid === o.uid ? this.history.points : null;
        const n = (hist ? hist.length : 0) + o.trail.length;
        if (n < 2) continue;
        if (e.tv !== o || e.tz !== zoom || e.th !== hist || e.tn !== n) {
          if (!e.tp || e.tp.length < 2 * n) e.tp = new Float64Array(2 * Math.max(n, TRAIL_MAX));
          let k = 0;
          const tp = e.tp;
          const put = (pt) => {
            const p = map.project(pt, zoom);
            tp[k++] = p.x;
            tp[k++] = p.y;
          };
          if (hist) for (const pt of hist) put(pt);
          for (const pt of o.trail) put(pt);
          e.tv = o;
          e.tz = zoom;
          e.th = hist;
          e.tn = n;
        }
        const dx = e.cx - e.x;
        const dy = e.cy - e.y;
        const tp = e.tp;
        if (e.a !== 1) {
          if (open) g.stroke();
          open = false;
          g.globalAlpha = e.a;
          g.beginPath();
        } else if (!open) {
          g.beginPath();
          open = true;
        }
        g.moveTo(tp[0] + dx, tp[1] + dy);
        for (let i = 1; i < e.tn; i++) g.lineTo(tp[2 * i] + dx, tp[2 * i + 1] + dy);
        if (e.a !== 1) {
          g.stroke();
          g.globalAlpha = 1;
        }
      }
    }
    if (open) g.stroke();
  },

  // _vectors draws the heading vectors of the symbols drawn (not of those
  // hidden in a cluster), under the symbols: those of current objects in
  // one path with one stroke (thousands of strokes cost more than
  // everything else in a frame), those of fading objects alone.
  _vectors(g, byPri) {
    g.strokeStyle = '#111';
    g.lineWidth = 2;
    g.globalAlpha = 1;
    g.beginPath();
    for (const b of byPri) {
      for (const e of b) {
        const o = e.o;
        if (typeof o.course !== 'number' || !Number.isFinite(o.course)) continue;
        const len = 18 + Math.min(30, (o.speed || 0) / 10);
        const rad = (o.course * Math.PI) / 180;
        const x2 = e.cx + Math.sin(rad) * len;
        const y2 = e.cy - Math.cos(rad) * len;
        if (e.a === 1) {
          g.moveTo(e.cx, e.cy);
          g.lineTo(x2, y2);
        } else {
          g.stroke();
          g.globalAlpha = e.a;
          g.beginPath();
          g.moveTo(e.cx, e.cy);
          g.lineTo(x2, y2);
          g.stroke();
          g.globalAlpha = 1;
          g.beginPath();
        }
      }
    }
    g.stroke();
  },

  // _marks paints the cluster marks (the count, ringed in the colour of
  // the highest classification they hide, with its abbreviation; from a
  // sprite cache) and fills this.clusters; the members are placed in
  // drawn as hidden in a cluster.
  _marks(g, cl, offX, offY, symbols) {
    g.globalAlpha = 1;
    const clusters = this.clusters;
    for (const s of cl.seeds) {
      const n = s.members.size;
      if (n < 2) continue;
      const mark = cl.markOf(s);
      let v = s.view;
      if (!v) v = s.view = new ClusterView(s);
      v.x = s.x - offX;
      v.y = s.y - offY;
      v.count = n;
      v.r = 12 + Math.min(8, 1.5 * Math.log2(n));
      v.level = mark.level;
      v.marking = mark.marking;
      v.hostile = mark.hostile;
      if (v.spN !== n || v.spMark !== mark) {
        v.sp = markSprite(n, v.r, mark);
        v.spN = n;
        v.spMark = mark;
      }
      const sp = v.sp;
      g.drawImage(sp.canvas, Math.round(v.x - sp.o), Math.round(v.y - sp.o), sp.w, sp.w);
      v.sym = symbols.add(v.x - v.r - 1.5, v.y - v.r - 1.5, 2 * v.r + 3, 2 * v.r + 3);
      clusters.push(v);
      for (const m of s.members.values()) {
        const d = m.d;
        d.x = m.cx;
        d.y = m.cy;
        d.r = 0;
        d.alpha = m.a;
        d.hidden = true;
        d.cluster = true;
      }
    }
  },

  // _labels places and paints the callsign labels and the clusters'
  // marking tags, most important first: a label that would overlap
  // another label or a symbol is moved round its symbol, else hidden
  // (placeLabels' rule, without allocating). Labels and tags are drawn
  // from sprite caches.
  _labels(g, labelled, clusters, symbols, size) {
    const placed = this._labelGrid;
    placed.clear(size.x, size.y);
    const pool = this._labelPool;
    const labels = this.labels;
    labels.length = 0;
    const h = 13;
    g.font = LABEL_FONT;
    // labelled is in painting order (most important last).
    for (let i = labelled.length - 1; i >= 0; i--) {
      const e = labelled[i];
      const text = e.o.callsign;
      const w = this._width(g, text) + 4;
      if (!this._place(placed, symbols, e.cx, e.cy, e.symX, e.symY, e.symW, e.symH, w, h, e.pri > 0 ? e.sym : -2)) continue;
      const l = pool[labels.length] || (pool[labels.length] = { uid: '', text: '', x: 0, y: 0, w: 0, h: 0 });
      l.uid = e.uid;
      l.text = text;
      l.x = this._px;
      l.y = this._py;
      l.w = w;
      l.h = h;
      labels.push(l);
      const sp = labelSprite(text);
      if (g.globalAlpha !== e.a) g.globalAlpha = e.a;
      g.drawImage(sp.canvas, Math.round(l.x + 2 - LABEL_PAD), Math.round(l.y + h / 2 - sp.h / 2), sp.w, sp.h);
    }
    g.globalAlpha = 1;
    for (const v of clusters) {
      const sp = tagSprite(v.marking, v.level);
      const r = v.r + 1.5;
      if (this._place(placed, symbols, v.x, v.y, v.x - r, v.y - r, 2 * r, 2 * r, sp.w, h, v.sym)) {
        g.drawImage(sp.canvas, Math.round(this._px), Math.round(this._py + 1), sp.w, h - 2);
      }
    }
  },

  // _place finds a place for a w × h label of a symbol at (x, y) with box
  // (sx, sy, sw, sh): right of it, else left, above or below; one that
  // overlaps no placed label and, unless sym is -2 (a flash track's), no
  // symbol but its own (index sym). Sets _px, _py and returns true.
  _place(placed, symbols, x, y, sx, sy, sw, sh, w, h, sym) {
    for (let c = 0; c < 4; c++) {
      const px = c === 0 ? sx + sw + 2 : c === 1 ? sx - w - 2 : x - w / 2;
      const py = c < 2 ? y - h / 2 : c === 2 ? sy - h - 1 : sy + sh + 1;
      if (placed.hits(px, py, w, h)) continue;
      if (sym !== -2 && symbols.hits(px, py, w, h, sym)) continue;
      placed.add(px, py, w, h);
      this._px = px;
      this._py = py;
      return true;
    }
    return false;
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
