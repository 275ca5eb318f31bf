// The page's copy of the common operational picture: the objects the stream
// delivered, each with a short trail of recent positions, and the filters
// the operator set. No DOM here.

import { combine } from './marking.js';

export const TRAIL_MAX = 50;

// dimension returns the filter category of an object: the 2525 battle
// dimension letter, 'M' for a missile track, or '-' for anything without a
// unit symbol.
export function dimension(o) {
  if (isMissile(o)) return 'M';
  const s = o.sidc || '';
  if (s[0] !== 'S') return '-';
  return s[2] === 'X' || s[2] === 'Z' ? '-' : s[2];
}

// affiliation returns the 2525 affiliation letter of an object's symbol, or
// '-' when it has none.
export function affiliation(o) {
  const s = o.sidc || '';
  return s[0] === 'S' || s[0] === 'G' ? s[1] : '-';
}

// isMissile reports whether an object is a missile track. The server
// decides (cot.Event.IsMissile) and marks such an object with "missile",
// so the map and the server cannot disagree.
export function isMissile(o) {
  return Boolean(o.missile);
}

export class Store {
  constructor() {
    this.objects = new Map(); // uid -> object (the latest JSON, plus bookkeeping)
    this.missiles = new Set(); // uids of missile tracks, kept as objects come and go
    // membership bumps when an object comes or goes or changes what the
    // list shows and filters on (callsign, type, symbol, label).
    this.membership = 0;
    // Labels of other things the page shows (orders, units), by panel: the
    // banner covers them too.
    this.panelLabels = new Map();
    this.version = 0; // bumps on every change
    this.listeners = new Set();
  }

  onChange(fn) { this.listeners.add(fn); }

  _changed(uid) {
    this.version++;
    for (const fn of this.listeners) fn(uid);
  }

  // replace installs a snapshot: objects absent from it are gone.
  replace(list, now = Date.now()) {
    const seen = new Set();
    for (const o of list) {
      this._put(o, now);
      seen.add(o.uid);
    }
    for (const uid of [...this.objects.keys()]) if (!seen.has(uid)) this._remove(uid);
    this._changed(null);
  }

  upsert(o, now = Date.now()) {
    this._put(o, now);
    this._changed(o.uid);
  }

  _put(o, now) {
    if (!o || typeof o.uid !== 'string') return;
    const prev = this.objects.get(o.uid);
    const trail = prev ? prev.trail : [];
    const lat = Number(o.lat);
    const lon = Number(o.lon);
    if (Number.isFinite(lat) && Number.isFinite(lon)) {
      const last = trail[trail.length - 1];
      if (!last || last[0] !== lat || last[1] !== lon) {
        trail.push([lat, lon]);
        if (trail.length > TRAIL_MAX) trail.splice(0, trail.length - TRAIL_MAX);
      }
    }
    o.trail = trail;
    o.staleAt = Date.parse(o.stale) || Infinity;
    o.timeMs = Date.parse(o.time) || now;
    const l = o.label || {};
    o.labelKey = `${l.classification}|${l.caveat || ''}|${l.originator}|${(l.releasableTo || []).join(',')}`;
    if (!prev || prev.callsign !== o.callsign || prev.type !== o.type || prev.sidc !== o.sidc || prev.labelKey !== o.labelKey) this.membership++;
    o.receivedAt = now;
    o.dirty = true;
    this.objects.set(o.uid, o);
    if (isMissile(o)) this.missiles.add(o.uid);
    else this.missiles.delete(o.uid);
  }

  _remove(uid) {
    if (this.objects.delete(uid)) this.membership++;
    this.missiles.delete(uid);
  }

  // delete removes an object. The server also deletes objects that went
  // stale; those stay, fading, until expire removes them, so the operator
  // sees a track go stale before it goes.
  delete(uid, now = Date.now()) {
    const o = this.objects.get(uid);
    if (!o) return;
    if (now >= o.staleAt) return;
    this._remove(uid);
    this._changed(uid);
  }

  // expire removes objects that have been stale for longer than fadeMs and
  // returns how many it removed.
  expire(now, fadeMs) {
    let n = 0;
    for (const [uid, o] of this.objects) {
      if (now >= o.staleAt + fadeMs) {
        this._remove(uid);
        n++;
      }
    }
    if (n) this._changed(null);
    return n;
  }

  // banner is the marking of everything the page holds. Thousands of
  // objects share a handful of distinct labels: combine those.
  banner() {
    const distinct = new Map();
    for (const o of this.objects.values()) if (!distinct.has(o.labelKey)) distinct.set(o.labelKey, o.label || {});
    const labels = [...distinct.values()];
    for (const ls of this.panelLabels.values()) labels.push(...ls);
    return combine(labels);
  }

  // setPanelLabels records the labels of what a panel shows.
  setPanelLabels(panel, labels) {
    this.panelLabels.set(panel, labels.filter(Boolean));
    this._changed(null);
  }
}

// opacity is how visible an object is: 1 while current, then fading from 0.5
// to 0.1 over fadeMs once it is stale.
export function opacity(o, now, fadeMs) {
  if (now < o.staleAt) return 1;
  const f = Math.min(1, (now - o.staleAt) / Math.max(1, fadeMs));
  return 0.5 - 0.4 * f;
}

// Filter holds the operator's list and map filters.
export class Filter {
  constructor() {
    this.text = '';
    this.nation = '';
    this.affil = '';
    this.dim = '';
  }

  matches(o) {
    if (this.nation && (o.label?.originator || '') !== this.nation) return false;
    if (this.affil && affiliation(o) !== this.affil) return false;
    if (this.dim && dimension(o) !== this.dim) return false;
    if (this.text) {
      const t = this.text.toLowerCase();
      const hay = `${o.callsign || ''} ${o.uid} ${o.type || ''}`.toLowerCase();
      if (!hay.includes(t)) return false;
    }
    return true;
  }
}
