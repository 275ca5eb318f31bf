// ObjectLayer draws every object of the store on one canvas above the base
// map: symbol, callsign label, heading vector and trail. One canvas for all
// objects keeps thousands of moving tracks cheap; clicks are hit-tested
// against the positions drawn last.

import { symbolFor } from './symbols.js';
import { opacity } from './store.js';

const L = globalThis.L;

// Above this many objects on screen, labels and trails are drawn only for
// the selected object, to keep the picture readable and the page responsive.
const CLUTTER = 800;
// When crowded, symbols closer than this to one already painted are not
// painted: they would be covered anyway.
const DECLUTTER_PX = 6;

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
  },

  onAdd(map) {
    this._map = map;
    const c = (this._canvas = L.DomUtil.create('canvas', 'kz-objects leaflet-zoom-hide'));
    c.style.pointerEvents = 'none';
    map.getPanes().overlayPane.appendChild(c);
    this._resize();
    map.on('move zoomend viewreset', this.redraw, this);
    map.on('resize', this._resize, this);
  },

  onRemove(map) {
    L.DomUtil.remove(this._canvas);
    map.off('move zoomend viewreset', this.redraw, this);
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
    const now = Date.now();
    const bounds = map.getBounds().pad(0.1);

    const visible = [];
    for (const o of this.store.objects.values()) {
      if (!this.filter.matches(o)) continue;
      if (!bounds.contains([o.lat, o.lon]) && o.uid !== this.selected) continue;
      visible.push(o);
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
    // Pass 1: positions and heading vectors. Vectors of current objects go
    // into one path with one stroke (thousands of strokes cost more than
    // everything else in a frame); those of fading objects are drawn alone.
    const pos = new Array(visible.length);
    const alpha = new Array(visible.length);
    g.strokeStyle = '#111';
    g.lineWidth = 2;
    g.globalAlpha = 1;
    g.beginPath();
    for (let i = 0; i < visible.length; i++) {
      const o = visible[i];
      const p = map.latLngToContainerPoint([o.lat, o.lon]);
      pos[i] = p;
      const a = (alpha[i] = opacity(o, now, this.fadeMs));
      if (typeof o.course !== 'number' || !Number.isFinite(o.course)) continue;
      const len = 18 + Math.min(30, (o.speed || 0) / 10);
      const rad = (o.course * Math.PI) / 180;
      const x2 = p.x + Math.sin(rad) * len;
      const y2 = p.y - Math.cos(rad) * len;
      if (a === 1) {
        g.moveTo(p.x, p.y);
        g.lineTo(x2, y2);
      } else {
        g.stroke();
        g.globalAlpha = a;
        g.beginPath();
        g.moveTo(p.x, p.y);
        g.lineTo(x2, y2);
        g.stroke();
        g.globalAlpha = 1;
        g.beginPath();
      }
    }
    g.stroke();

    // Pass 2: symbols, selection and labels. When crowded, a symbol whose
    // centre falls within DECLUTTER_PX of one already drawn is hidden under
    // it anyway: it is placed (for clicks) but not painted.
    const cols = Math.ceil(size.x / DECLUTTER_PX) + 2;
    const rows = Math.ceil(size.y / DECLUTTER_PX) + 2;
    const taken = busy ? new Uint8Array(cols * rows) : null;
    for (let i = 0; i < visible.length; i++) {
      const o = visible[i];
      const p = pos[i];
      const a = alpha[i];
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
      if (s.canvas.width === s.w) g.drawImage(s.image, Math.round(p.x - s.anchor.x), Math.round(p.y - s.anchor.y));
      else g.drawImage(s.image, Math.round(p.x - s.anchor.x), Math.round(p.y - s.anchor.y), s.w, s.h);
      if (o.uid === this.selected) {
        g.strokeStyle = '#ffd400';
        g.lineWidth = 2;
        g.strokeRect(p.x - s.anchor.x - 3, p.y - s.anchor.y - 3, s.w + 6, s.h + 6);
      }
      if ((!busy || o.uid === this.selected) && o.callsign) {
        const x = p.x - s.anchor.x + s.w + 3;
        g.lineWidth = 3;
        g.strokeStyle = 'rgba(255,255,255,0.85)';
        g.strokeText(o.callsign, x, p.y);
        g.fillStyle = '#111';
        g.fillText(o.callsign, x, p.y);
      }
      drawn.set(o.uid, { x: p.x, y: p.y, r: Math.max(s.w, s.h) / 2 + 2, alpha: a });
      if (o.dirty) {
        applied.push(now - o.timeMs);
        o.dirty = false;
      }
    }
    g.globalAlpha = 1;
    this.drawn = drawn;
    this.frames++;
    this.onDraw(now, visible, applied);
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
      if (dist <= d.r * d.r && dist < bestD) {
        best = uid;
        bestD = dist;
      }
    }
    return best;
  },
});
