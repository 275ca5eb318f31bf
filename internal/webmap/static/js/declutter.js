// Readability at every zoom: symbols that would pile up are aggregated into
// clusters (a count and the highest marking of what each hides), and
// callsign labels are placed so that no two overlap, most important first
// (flash, then hostile, then own units, then the rest). Pure functions of
// screen positions: no DOM, no map.

import { affiliation, isMissile } from './store.js';
import { combine, portionOfBanner } from './marking.js';

// priority orders objects for labels and for staying out of clusters:
// 0 flash (missile warnings), 1 hostile or suspect, 2 own nation's,
// 3 other friends, 4 everything else.
export function priority(o, nation) {
  if (o.flash || isMissile(o)) return 0;
  const a = affiliation(o);
  if (a === 'H' || a === 'S' || a === 'J' || a === 'K') return 1;
  if (nation && o.label?.originator === nation) return 2;
  if (a === 'F' || a === 'A') return 3;
  return 4;
}

// cluster aggregates items ({o, x, y, pri}) whose symbols would pile up:
// in priority order, each item joins the nearest cluster seed within
// radiusPx screen pixels, else becomes a seed itself (so a cluster sits on
// its most important member). Flash items and the keep uid are never
// hidden in a cluster. Returns {singles, clusters}; each cluster is
// {x, y, count, uids, members, hostile, marking, level}, count ===
// uids.length.
export function cluster(items, radiusPx, keep) {
  const order = items.slice().sort((a, b) => a.pri - b.pri);
  const seeds = new Map(); // grid cell -> [seed]
  const all = [];
  const singles = [];
  const r2 = radiusPx * radiusPx;
  for (const it of order) {
    if (it.pri <= 0 || it.o.uid === keep) {
      singles.push(it);
      continue;
    }
    const cx = Math.floor(it.x / radiusPx);
    const cy = Math.floor(it.y / radiusPx);
    let best = null;
    let bestD = Infinity;
    for (let gx = cx - 1; gx <= cx + 1; gx++) {
      for (let gy = cy - 1; gy <= cy + 1; gy++) {
        const c = seeds.get(gx * 100003 + gy);
        if (!c) continue;
        for (const s of c) {
          const d = (s.x - it.x) ** 2 + (s.y - it.y) ** 2;
          if (d <= r2 && d < bestD) {
            best = s;
            bestD = d;
          }
        }
      }
    }
    if (best) {
      best.members.push(it);
      continue;
    }
    const seed = { x: it.x, y: it.y, members: [it] };
    const k = cx * 100003 + cy;
    const c = seeds.get(k);
    if (c) c.push(seed);
    else seeds.set(k, [seed]);
    all.push(seed);
  }
  const clusters = [];
  for (const seed of all) {
    const members = seed.members;
    if (members.length === 1) {
      singles.push(members[0]);
      continue;
    }
    let hostile = false;
    const labels = new Map();
    const uids = new Array(members.length);
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m.pri === 1) hostile = true;
      uids[i] = m.o.uid;
      const k = m.o.labelKey ?? JSON.stringify(m.o.label);
      if (!labels.has(k)) labels.set(k, m.o.label || {});
    }
    const b = combine([...labels.values()]);
    clusters.push({
      x: seed.x, y: seed.y, count: members.length, uids, members, hostile,
      level: b.level, marking: portionOfBanner(b.text),
    });
  }
  return { singles, clusters };
}

// Grid is a spatial hash of rectangles {x, y, w, h} (top-left, size).
export class Grid {
  constructor(bucket = 64) {
    this.bucket = bucket;
    this.cells = new Map();
  }

  _keys(r, fn) {
    const b = this.bucket;
    const x0 = Math.floor(r.x / b);
    const x1 = Math.floor((r.x + r.w) / b);
    const y0 = Math.floor(r.y / b);
    const y1 = Math.floor((r.y + r.h) / b);
    for (let gx = x0; gx <= x1; gx++) for (let gy = y0; gy <= y1; gy++) if (fn(gx * 100003 + gy) === false) return false;
    return true;
  }

  add(r) {
    this._keys(r, (k) => {
      const c = this.cells.get(k);
      if (c) c.push(r);
      else this.cells.set(k, [r]);
    });
  }

  // hits reports whether r overlaps a rectangle in the grid other than skip.
  hits(r, skip) {
    return !this._keys(r, (k) => {
      const c = this.cells.get(k);
      if (!c) return true;
      for (const q of c) {
        if (q === skip) continue;
        if (r.x < q.x + q.w && q.x < r.x + r.w && r.y < q.y + q.h && q.y < r.y + r.h) return false;
      }
      return true;
    });
  }
}

// overlaps reports whether two rectangles overlap (touching edges do not).
export function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

// placeLabels places one label per item ({o, x, y, pri, sym:{x,y,w,h},
// w: text width}) in priority order: to the right of its symbol, else
// left, above or below. A label never overlaps another label; it also
// keeps off other symbols and cluster marks (symbols, a Grid), except a
// flash track's (pri <= 0), which is placed over them rather than hidden.
// A label that fits nowhere is hidden. Returns [{uid, text, x, y, w, h}].
export function placeLabels(items, symbols, lineH = 13) {
  const order = items.slice().sort((a, b) => a.pri - b.pri);
  const placed = new Grid();
  const out = [];
  for (const it of order) {
    const s = it.sym;
    const w = it.w + 4;
    const h = lineH;
    const cands = [
      { x: s.x + s.w + 2, y: it.y - h / 2 },
      { x: s.x - w - 2, y: it.y - h / 2 },
      { x: it.x - w / 2, y: s.y - h - 1 },
      { x: it.x - w / 2, y: s.y + s.h + 1 },
    ];
    for (const c of cands) {
      const r = { x: c.x, y: c.y, w, h };
      if (placed.hits(r)) continue;
      if (it.pri > 0 && symbols.hits(r, s)) continue;
      placed.add(r);
      out.push({ uid: it.o.uid, text: it.text, x: r.x, y: r.y, w, h });
      break;
    }
  }
  return out;
}

// Clusterer keeps the clusters of one view (one zoom level) in absolute
// pixel coordinates, so that a frame does not re-cluster everything: build
// clusters all items once (after a pan or zoom, as cluster does), and
// update re-bins only the items that moved, came or left. An item joins
// the nearest cluster seed within radius pixels, else becomes a seed;
// flash items (pri <= 0) and the keep uid are never clustered.
//
// A cluster's mark sits on its lead (its most important member, the item
// that made the seed) and follows it as it moves; members the lead leaves
// out of reach are re-binned, and when the lead leaves, the next most
// important member leads. So between two pans a mark is always on one of
// the objects it hides, every member within radius of it, and its count
// is what it holds. An item an update passes in may be the same object
// as before, changed in place: the clusterer keeps what it needs of the
// old one (position of the seed, label and priority) itself. Each item
// gets a cseed property: its seed, or null.
export class Clusterer {
  constructor(radius, keep) {
    this.r = radius;
    this.keep = keep;
    this.cells = new Map(); // grid cell -> [seed]
    this.entries = new Map(); // uid -> {it, seed, lk, pri}
    this.seeds = new Set();
    this._out = [];
  }

  // build clusters items ({o, x, y, pri}) from scratch, in priority order.
  build(items) {
    this.cells.clear();
    this.entries.clear();
    this.seeds.clear();
    const order = items.slice().sort((a, b) => a.pri - b.pri);
    for (const it of order) this.insert(it);
  }

  insert(it) {
    const uid = it.o.uid;
    if (it.pri <= 0 || uid === this.keep) {
      it.cseed = null;
      this.entries.set(uid, { it, seed: null, lk: it.o.labelKey, pri: it.pri });
      return;
    }
    const r = this.r;
    const cx = Math.floor(it.x / r);
    const cy = Math.floor(it.y / r);
    let best = null;
    let bestD = r * r;
    for (let gx = cx - 1; gx <= cx + 1; gx++) {
      for (let gy = cy - 1; gy <= cy + 1; gy++) {
        const c = this.cells.get(gx * 100003 + gy);
        if (!c) continue;
        for (const s of c) {
          const d = (s.x - it.x) ** 2 + (s.y - it.y) ** 2;
          if (d <= bestD) {
            best = s;
            bestD = d;
          }
        }
      }
    }
    if (!best) {
      best = { x: it.x, y: it.y, k: cx * 100003 + cy, lead: it, members: new Map(), rev: 0, mark: null, view: null };
      const c = this.cells.get(best.k);
      if (c) c.push(best);
      else this.cells.set(best.k, [best]);
      this.seeds.add(best);
    }
    best.members.set(uid, it);
    best.rev++;
    it.cseed = best;
    this.entries.set(uid, { it, seed: best, lk: it.o.labelKey, pri: it.pri });
  }

  remove(uid) {
    const e = this.entries.get(uid);
    if (!e) return;
    this.entries.delete(uid);
    const s = e.seed;
    if (e.it.cseed === s) e.it.cseed = null;
    if (!s) return;
    s.members.delete(uid);
    s.rev++;
    if (s.members.size === 0) {
      this.seeds.delete(s);
      this._uncell(s);
      return;
    }
    if (s.lead === e.it) {
      // The next most important member leads; the mark moves onto it.
      let lead = null;
      for (const m of s.members.values()) if (!lead || m.pri < lead.pri) lead = m;
      s.lead = lead;
      this._follow(s);
    }
  }

  _uncell(s) {
    const c = this.cells.get(s.k);
    const i = c.indexOf(s);
    if (i >= 0) c.splice(i, 1);
    if (c.length === 0) this.cells.delete(s.k);
  }

  // _follow moves seed s onto its lead and re-bins the members the move
  // left out of reach.
  _follow(s) {
    const r = this.r;
    const x = s.lead.x;
    const y = s.lead.y;
    if (x === s.x && y === s.y) return;
    s.x = x;
    s.y = y;
    const k = Math.floor(x / r) * 100003 + Math.floor(y / r);
    if (k !== s.k) {
      this._uncell(s);
      s.k = k;
      const c = this.cells.get(k);
      if (c) c.push(s);
      else this.cells.set(k, [s]);
    }
    const out = this._out;
    const from = out.length;
    for (const m of s.members.values()) if ((m.x - x) ** 2 + (m.y - y) ** 2 > r * r) out.push(m);
    for (let i = from; i < out.length; i++) {
      this.remove(out[i].o.uid);
      this.insert(out[i]);
    }
    out.length = from;
  }

  // update puts an item that changed (moved, relabelled) or came into
  // view: it stays in its cluster while within reach of the seed, else it
  // is re-binned; a lead that moved takes its mark along.
  update(it) {
    const uid = it.o.uid;
    const e = this.entries.get(uid);
    if (e && e.seed && it.pri > 0 && uid !== this.keep) {
      const s = e.seed;
      const changed = e.lk !== it.o.labelKey || e.pri !== it.pri;
      if (s.lead === e.it || s.lead === it) {
        e.it = it;
        s.lead = it;
        it.cseed = s;
        s.members.set(uid, it);
        if (changed) {
          e.lk = it.o.labelKey;
          e.pri = it.pri;
          s.rev++;
        }
        this._follow(s);
        return;
      }
      if ((s.x - it.x) ** 2 + (s.y - it.y) ** 2 <= this.r * this.r) {
        e.it = it;
        it.cseed = s;
        s.members.set(uid, it);
        if (changed) {
          e.lk = it.o.labelKey;
          e.pri = it.pri;
          s.rev++;
        }
        return;
      }
    }
    if (e) this.remove(uid);
    this.insert(it);
  }

  // markOf returns seed s's marking ({hostile, level, marking}), computed
  // again only when its members or their labels changed.
  markOf(s) {
    if (!s.mark || s.mark.rev !== s.rev) {
      let hostile = false;
      const labels = new Map();
      for (const m of s.members.values()) {
        if (m.pri === 1) hostile = true;
        const k = m.o.labelKey ?? JSON.stringify(m.o.label);
        if (!labels.has(k)) labels.set(k, m.o.label || {});
      }
      const b = combine([...labels.values()]);
      s.mark = { rev: s.rev, hostile, level: b.level, marking: portionOfBanner(b.text) };
    }
    return s.mark;
  }

  // result returns {singles, clusters} as cluster does.
  result() {
    const singles = [];
    const clusters = [];
    for (const e of this.entries.values()) if (!e.seed) singles.push(e.it);
    for (const s of this.seeds) {
      if (s.members.size === 1) {
        for (const it of s.members.values()) singles.push(it);
        continue;
      }
      const mark = this.markOf(s);
      const members = [...s.members.values()];
      clusters.push({
        x: s.x, y: s.y, count: members.length, uids: members.map((m) => m.o.uid), members,
        hostile: mark.hostile, level: mark.level, marking: mark.marking,
      });
    }
    return { singles, clusters };
  }
}

// RectGrid is a spatial hash of rectangles over a screen, for collision
// tests frame after frame without allocating: cleared, not rebuilt; its
// rectangles live in typed arrays that grow as needed.
export class RectGrid {
  constructor(cell = 48) {
    this.cell = cell;
    this.cols = 0;
    this.rows = 0;
    this.buckets = [];
    this.used = []; // indices of the buckets holding something
    this.n = 0;
    this.box = new Float64Array(4 * 1024);
  }

  // clear empties the grid for a screen of w × h pixels (rectangles off
  // it are kept in the border cells).
  clear(w, h) {
    const cols = Math.ceil(w / this.cell) + 2;
    const rows = Math.ceil(h / this.cell) + 2;
    if (cols !== this.cols || rows !== this.rows) {
      this.cols = cols;
      this.rows = rows;
      this.buckets = Array.from({ length: cols * rows }, () => []);
    } else {
      for (const i of this.used) this.buckets[i].length = 0;
    }
    this.used.length = 0;
    this.n = 0;
  }

  _span(x, y, w, h) {
    const c = this.cell;
    const mx = this.cols - 1;
    const my = this.rows - 1;
    this.x0 = Math.max(0, Math.min(mx, Math.floor(x / c) + 1));
    this.x1 = Math.max(0, Math.min(mx, Math.floor((x + w) / c) + 1));
    this.y0 = Math.max(0, Math.min(my, Math.floor(y / c) + 1));
    this.y1 = Math.max(0, Math.min(my, Math.floor((y + h) / c) + 1));
  }

  // add stores a rectangle (top-left, size) and returns its index.
  add(x, y, w, h) {
    const i = this.n++;
    if (4 * this.n > this.box.length) {
      const b = new Float64Array(this.box.length * 2);
      b.set(this.box);
      this.box = b;
    }
    const o = 4 * i;
    this.box[o] = x;
    this.box[o + 1] = y;
    this.box[o + 2] = w;
    this.box[o + 3] = h;
    this._span(x, y, w, h);
    for (let gy = this.y0; gy <= this.y1; gy++) {
      for (let gx = this.x0; gx <= this.x1; gx++) {
        const k = gy * this.cols + gx;
        const b = this.buckets[k];
        if (b.length === 0) this.used.push(k);
        b.push(i);
      }
    }
    return i;
  }

  // hits reports whether the rectangle overlaps one in the grid other
  // than the one of index skip (touching edges do not overlap).
  hits(x, y, w, h, skip = -1) {
    this._span(x, y, w, h);
    const box = this.box;
    for (let gy = this.y0; gy <= this.y1; gy++) {
      for (let gx = this.x0; gx <= this.x1; gx++) {
        const b = this.buckets[gy * this.cols + gx];
        for (let j = 0; j < b.length; j++) {
          const i = b[j];
          if (i === skip) continue;
          const o = 4 * i;
          if (x < box[o] + box[o + 2] && box[o] < x + w && y < box[o + 1] + box[o + 3] && box[o + 1] < y + h) return true;
        }
      }
    }
    return false;
  }
}
