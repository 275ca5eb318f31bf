// The object list (searchable, filterable, virtualised so thousands of rows
// stay cheap) and the detail panel of the selected object.

import { markingOf, normalizeLevel, portionOf } from './marking.js';
import { symbolURL } from './symbols.js';
import { affiliation, dimension, isMissile } from './store.js';

const ROW = 28; // px, must match .row in app.css

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'style') e.style.cssText = v; // CSSOM: allowed under a strict CSP
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function markingBadge(label) {
  const level = normalizeLevel(label?.classification) || 'UNMARKED';
  return el('span', { class: 'mk', dataset: { level }, title: markingOf(label) }, markingOf(label));
}

// portionBadge is the short marking of a list row, e.g. (S//REL JPN); the
// full marking is its title and accessible name. Short, so the callsign
// beside it keeps its room.
export function portionBadge(label) {
  const level = normalizeLevel(label?.classification) || 'UNMARKED';
  const full = markingOf(label);
  return el('span', { class: 'mk', dataset: { level }, title: full, 'aria-label': full }, portionOf(label));
}

export class ObjectList {
  constructor(store, filter, { onSelect }) {
    this.store = store;
    this.filter = filter;
    this.onSelect = onSelect;
    this.box = document.getElementById('list');
    this.inner = document.getElementById('list-inner');
    this.rows = [];
    this.selected = null;
    this.nations = new Set();
    this.box.addEventListener('scroll', () => this.paint());
    this.box.addEventListener('click', (ev) => {
      const row = ev.target.closest('.row');
      if (row) this.onSelect(row.dataset.uid);
    });
    this.box.addEventListener('keydown', (ev) => {
      const row = ev.target.closest('.row');
      if (row && (ev.key === 'Enter' || ev.key === ' ')) {
        ev.preventDefault();
        this.onSelect(row.dataset.uid);
      }
    });
  }

  // refresh re-sorts and re-filters the rows; call it when the store changed.
  // The sort is skipped while no object came, went or changed callsign,
  // label or type and the filter is the same: the common case of tracks
  // that only move.
  refresh() {
    const key = `${this.store.membership}|${this.filter.text}|${this.filter.nation}|${this.filter.affil}|${this.filter.dim}`;
    if (key !== this.sortedKey) {
      this.sortedKey = key;
      const rows = [];
      for (const o of this.store.objects.values()) {
        const nat = o.label?.originator;
        if (nat && !this.nations.has(nat)) this._addNation(nat);
        if (this.filter.matches(o)) rows.push(o);
      }
      const name = (o) => o.callsign || o.uid;
      rows.sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
      this.rows = rows;
      this.inner.style.height = `${rows.length * ROW}px`;
    }
    this.paint();
  }

  _addNation(nat) {
    this.nations.add(nat);
    const sel = document.getElementById('f-nation');
    const opts = [...this.nations].sort();
    const keep = sel.value;
    sel.replaceChildren(el('option', { value: '' }, 'All nations'), ...opts.map((n) => el('option', { value: n }, n)));
    sel.value = keep;
  }

  // mark moves the selection highlight without redrawing the rows.
  mark(uid) {
    this.selected = uid;
    for (const row of this.inner.children) {
      const on = row.dataset.uid === uid;
      row.classList.toggle('selected', on);
      row.setAttribute('aria-selected', String(on));
    }
  }

  // paint draws only the rows in view, and touches the DOM only when what
  // they show changed (positions alone do not show in the list).
  paint() {
    const top = this.box.scrollTop;
    const h = this.box.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - 5);
    const last = Math.min(this.rows.length, Math.ceil((top + h) / ROW) + 5);
    const now = Date.now();
    const shown = [];
    let sig = `${first}:${this.selected}`;
    for (let i = first; i < last; i++) {
      const o = this.store.objects.get(this.rows[i].uid) || this.rows[i];
      const stale = now >= o.staleAt;
      shown.push([i, o, stale]);
      sig += `|${o.uid}\t${o.callsign}\t${o.sidc}\t${o.labelKey}\t${stale}`;
    }
    if (sig === this.painted) return;
    this.painted = sig;
    const frag = document.createDocumentFragment();
    for (const [i, o, stale] of shown) {
      const row = el(
        'div',
        {
          class: `row${o.uid === this.selected ? ' selected' : ''}${stale ? ' stale' : ''}`,
          role: 'option',
          tabindex: 0,
          'aria-selected': String(o.uid === this.selected),
          dataset: { uid: o.uid, affil: affiliation(o), dim: dimension(o) },
          style: `top:${i * ROW}px`,
        },
        el('img', { src: symbolURL(o.sidc), alt: '' }),
        el('span', { class: 'cs', title: o.callsign || o.uid }, o.callsign || o.uid),
        portionBadge(o.label),
      );
      frag.append(row);
    }
    // Keyboard focus stays on its object's row across repaints.
    const active = document.activeElement;
    const focused = active && this.inner.contains(active) ? active.dataset.uid : null;
    this.inner.replaceChildren(frag);
    if (focused) {
      for (const row of this.inner.children) if (row.dataset.uid === focused) row.focus({ preventScroll: true });
    }
  }
}

function fmtTime(s) {
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—';
}

function fmtNum(v, digits, unit = '') {
  return typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(digits)}${unit}` : '—';
}

// renderDetail fills the detail panel for object o (or hides it for null).
export function renderDetail(box, o, { onClose }) {
  if (!o) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  const l = o.label || {};
  const level = normalizeLevel(l.classification) || 'UNMARKED';
  const rows = [
    ['UID', o.uid],
    ['Type', o.type],
    ['SIDC', o.sidc || '—'],
    ['Classification', l.classification || '—'],
    ['Releasable to', (l.releasableTo || []).join(', ') || `${l.originator || '?'} only`],
    ['Originator', l.originator || '—'],
    ['Caveat', l.caveat || '—'],
    ['How', o.how || '—'],
    ['Time', fmtTime(o.time)],
    ['Stale', fmtTime(o.stale)],
    ['Position', `${fmtNum(o.lat, 5)}, ${fmtNum(o.lon, 5)}`],
    ['Altitude (HAE)', fmtNum(o.hae, 0, ' m')],
    ['Course', fmtNum(o.course, 0, '°')],
    ['Speed', fmtNum(o.speed, 1, ' m/s')],
  ];
  if (o.remarks) rows.push(['Remarks', o.remarks]);
  if (isMissile(o) && o.missile) {
    const m = o.missile;
    if (m.launch) rows.push(['Launch point', `${fmtNum(m.launch.lat, 4)}, ${fmtNum(m.launch.lon, 4)}`]);
    if (m.impact) {
      rows.push(['Predicted impact', `${fmtNum(m.impact.lat, 4)}, ${fmtNum(m.impact.lon, 4)}`]);
      if (m.impact.radius) rows.push(['Impact radius', fmtNum(m.impact.radius / 1000, 1, ' km')]);
      if (m.impact.time) rows.push(['Impact time', fmtTime(m.impact.time)]);
    }
  }
  box.replaceChildren(
    el('button', { class: 'close', title: 'Close', 'aria-label': 'Close details', onclick: onClose }, '×'),
    el('h2', {}, el('img', { src: symbolURL(o.sidc), alt: '' }), o.callsign || o.uid),
    el('span', { class: 'mk marking', id: 'detail-marking', dataset: { level } }, markingOf(l)),
    el('dl', {}, rows.map(([k, v]) => [el('dt', {}, k), el('dd', { dataset: { field: k } }, v)])),
  );
}
