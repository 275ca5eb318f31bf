// Measure and annotate: range and bearing between two points or objects
// (a click on a symbol snaps to it), a range ring, and drawings (point,
// line, area, ring) published through POST /api/v1/drawings with a label
// the user chooses within their clearance. The server ingests a drawing as
// this page's principal, so the label and ownership rules of a TAK
// client's event apply, and TAK clients receive it as any other drawing.

import { el } from './panels.js';
import { LEVELS, normalizeLevel } from './marking.js';

const L = globalThis.L;
const R = 6371008.8; // mean Earth radius, metres
const rad = (d) => (d * Math.PI) / 180;

// range returns the great-circle distance between [lat, lon] points, metres.
export function range(a, b) {
  const dLat = rad(b[0] - a[0]);
  const dLon = rad(b[1] - a[1]);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[0])) * Math.cos(rad(b[0])) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

// bearing returns the initial true bearing from a to b, degrees in [0, 360).
export function bearing(a, b) {
  const y = Math.sin(rad(b[1] - a[1])) * Math.cos(rad(b[0]));
  const x = Math.cos(rad(a[0])) * Math.sin(rad(b[0])) - Math.sin(rad(a[0])) * Math.cos(rad(b[0])) * Math.cos(rad(b[1] - a[1]));
  return ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
}

// describe renders a range and bearing as a staff officer reads it.
export function describe(a, b) {
  const m = range(a, b);
  const km = m / 1000;
  const nm = m / 1852;
  return `${km < 10 ? km.toFixed(2) : km.toFixed(1)} km (${nm.toFixed(1)} NM) · ${String(Math.round(bearing(a, b)) % 360).padStart(3, '0')}° T`;
}

// levelsUpTo lists the classifications a user of this clearance may mark.
export function levelsUpTo(clearance) {
  const top = LEVELS.indexOf(normalizeLevel(clearance));
  return top < 0 ? [] : LEVELS.slice(0, top + 1);
}

// CAVEATS are the caveats a drawing may carry, with the meaning the
// server gives them (label.KnownCaveats). A user is offered only those
// they hold (caveatsHeld); the server refuses any other.
export const CAVEATS = [
  ['NOFORN', 'Not releasable to other nations, whatever Releasable to says'],
  ['ORCON', 'Originator controlled: only your nation may release it further'],
  ['FOUO', 'For official use only: a handling marking'],
];

// caveatsHeld returns the entries of CAVEATS the principal of a whoami
// answer holds, in CAVEATS' order; none when it names none.
export function caveatsHeld(principal) {
  const held = new Set((Array.isArray(principal?.caveats) ? principal.caveats : []).map((c) => String(c).toUpperCase()));
  return CAVEATS.filter(([c]) => held.has(c));
}

// NATION is an ISO 3166 alpha-3 code, as the server accepts in releasableTo.
const NATION = /^[A-Z]{3}$/;

const VERTICES = { point: [1, 1], ring: [1, 1], line: [2, 500], area: [3, 500] };

export class Tools {
  // ctx: {map, layer, store: () => Store, whoami: () => whoami JSON}
  constructor(ctx) {
    this.ctx = ctx;
    this.map = ctx.map;
    this.mode = null;
    this.pts = [];
    this.radius = 0;
    this.group = L.layerGroup().addTo(this.map);
    this.renderer = L.svg({ padding: 0.5 });
    this._build();
    this.map.on('click', (ev) => this._click(ev));
    this.map.on('mousemove', (ev) => this._move(ev));
    document.addEventListener('keydown', (ev) => {
      if (!this.mode) return;
      if (ev.key === 'Escape') this.cancel();
      else if (ev.key === 'Enter' && (this.mode === 'line' || this.mode === 'area') && ev.target === document.body) this.finish();
    });
  }

  _build() {
    const b = (mode, text, title) => el('button', { type: 'button', class: 'tool', dataset: { tool: mode }, title, 'aria-pressed': 'false', onclick: () => this.start(mode) }, text);
    this.buttons = [
      b('measure', 'Range', 'Range and bearing between two points or objects'),
      b('ring', 'Ring', 'Range ring: centre, then radius'),
      b('point', 'Point', 'Draw a point'),
      b('line', 'Line', 'Draw a line: click vertices, then Finish'),
      b('area', 'Area', 'Draw an area: click vertices, then Finish'),
    ];
    this.finishBtn = el('button', { type: 'button', id: 'tool-finish', hidden: true, onclick: () => this.finish() }, 'Finish');
    this.readout = el('div', { id: 'measure-readout', class: 'readout', 'aria-live': 'polite' });
    this.form = el('form', { id: 'draw-form', class: 'draw-form', hidden: true });
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.publish();
    });
    this.status = el('div', { id: 'draw-status', class: 'readout', 'aria-live': 'polite' });
    this.box = el('div', { id: 'tools', class: 'kz-tools', role: 'toolbar', 'aria-label': 'Measure and draw' },
      el('div', { class: 'tool-row' }, this.buttons, this.finishBtn), this.readout, this.form, this.status);
    L.DomEvent.disableClickPropagation(this.box);
    L.DomEvent.disableScrollPropagation(this.box);
    this.map.getContainer().appendChild(this.box);
  }

  start(mode) {
    const again = this.mode === mode;
    this.cancel();
    if (again) return;
    this.mode = mode;
    for (const btn of this.buttons) btn.setAttribute('aria-pressed', String(btn.dataset.tool === mode));
    this.map.getContainer().classList.add('kz-tool-active');
    this.readout.textContent = mode === 'measure' ? 'Click the first point or object' : mode === 'ring' ? 'Click the centre' : 'Click on the map';
  }

  cancel() {
    this.mode = null;
    this.pts = [];
    this.radius = 0;
    this.group.clearLayers();
    this.form.hidden = true;
    this.finishBtn.hidden = true;
    this.readout.textContent = '';
    for (const btn of this.buttons) btn.setAttribute('aria-pressed', 'false');
    this.map.getContainer().classList.remove('kz-tool-active');
  }

  // pointAt snaps to the object under the pointer, else the map position.
  pointAt(ev) {
    const uid = this.ctx.layer.hit(ev.containerPoint);
    const o = uid ? this.ctx.store().objects.get(uid) : null;
    return o ? { p: [o.lat, o.lon], name: o.callsign || o.uid } : { p: [ev.latlng.lat, ev.latlng.lng], name: null };
  }

  _click(ev) {
    if (!this.mode || !this.form.hidden) return;
    const { p, name } = this.pointAt(ev);
    if (this.mode === 'measure') {
      if (this.pts.length >= 2) this.pts = [];
      this.pts.push(p);
      this.names = this.pts.length === 1 ? [name] : [...this.names, name];
    } else if (this.mode === 'ring') {
      if (this.pts.length === 0) this.pts.push(p);
      else {
        this.radius = range(this.pts[0], p);
        this.openForm();
      }
    } else {
      this.pts.push(p);
      if (this.mode === 'point') this.openForm();
      else this.finishBtn.hidden = this.pts.length < VERTICES[this.mode][0];
    }
    this.render();
  }

  _move(ev) {
    if (this.mode === 'ring' && this.pts.length === 1 && this.form.hidden) {
      this.radius = range(this.pts[0], [ev.latlng.lat, ev.latlng.lng]);
      this.render();
    }
  }

  render() {
    this.group.clearLayers();
    const opt = { renderer: this.renderer, color: '#d00', weight: 2, interactive: false };
    for (const p of this.pts) L.circleMarker(p, { ...opt, radius: 4, className: 'kz-vertex' }).addTo(this.group);
    if (this.mode === 'measure' && this.pts.length === 2) {
      L.polyline(this.pts, { ...opt, dashArray: '6 4', className: 'kz-measure' }).addTo(this.group);
      const [a, b] = this.names;
      this.readout.textContent = `${a || 'point'} → ${b || 'point'}: ${describe(this.pts[0], this.pts[1])}`;
    } else if (this.mode === 'ring' && this.pts.length === 1 && this.radius > 0) {
      L.circle(this.pts[0], { ...opt, radius: this.radius, fill: false, className: 'kz-ring' }).addTo(this.group);
      this.readout.textContent = `Ring radius ${(this.radius / 1000).toFixed(2)} km (${(this.radius / 1852).toFixed(1)} NM)`;
    } else if (this.mode === 'line' && this.pts.length > 1) {
      L.polyline(this.pts, { ...opt, className: 'kz-draft' }).addTo(this.group);
    } else if (this.mode === 'area' && this.pts.length > 1) {
      L.polygon(this.pts, { ...opt, className: 'kz-draft' }).addTo(this.group);
    }
  }

  finish() {
    if (!this.mode || this.pts.length < (VERTICES[this.mode] || [1])[0]) return;
    this.openForm();
  }

  // openForm asks for the drawing's name and label: a classification up to
  // the user's clearance, the nations it is released to, and caveats among
  // those the user holds.
  openForm() {
    const who = this.ctx.whoami()?.principal || {};
    const levels = levelsUpTo(who.clearance);
    const held = caveatsHeld(who);
    this.finishBtn.hidden = true;
    this.form.replaceChildren(
      el('label', {}, 'Name ', el('input', { id: 'draw-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off' })),
      el('label', {}, 'Classification ', el('select', { id: 'draw-class', name: 'classification' },
        levels.map((l, i) => el('option', { value: l, selected: i === levels.length - 1 }, l)))),
      el('label', {}, 'Releasable to ', el('input', { id: 'draw-rel', name: 'rel', placeholder: 'e.g. JPN, KOR', autocomplete: 'off', title: 'Nations besides your own, comma separated' })),
      el('fieldset', { class: 'draw-caveats' }, el('legend', {}, 'Caveats'),
        held.length
          ? held.map(([c, title]) => el('label', { title }, el('input', { type: 'checkbox', id: `draw-cav-${c}`, name: 'caveat', value: c }), ` ${c}`))
          : el('span', { id: 'draw-cav-none', class: 'readout' }, 'none held')),
      el('div', { class: 'tool-row' },
        el('button', { type: 'submit', id: 'draw-publish' }, 'Publish'),
        el('button', { type: 'button', onclick: () => this.cancel() }, 'Cancel')),
    );
    this.form.hidden = false;
    this.form.querySelector('#draw-name').focus();
  }

  async publish() {
    const f = this.form;
    const rel = f.querySelector('#draw-rel').value.split(/[\s,]+/).map((s) => s.trim().toUpperCase()).filter(Boolean);
    const badNation = rel.find((n) => !NATION.test(n));
    if (badNation) {
      this.status.textContent = `Not published: ${badNation} is not a nation code (three letters, e.g. KOR)`;
      this.status.className = 'readout error';
      return;
    }
    const body = {
      kind: this.mode,
      name: f.querySelector('#draw-name').value,
      points: this.pts.map(([lat, lon]) => ({ lat, lon })),
      label: {
        classification: f.querySelector('#draw-class').value, releasableTo: rel,
        caveats: [...f.querySelectorAll('input[name=caveat]:checked')].map((c) => c.value),
      },
    };
    if (this.mode === 'ring') body.radius = this.radius;
    try {
      const res = await fetch('api/v1/drawings', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) {
        this.status.textContent = `Not published: ${text.trim()}`;
        this.status.className = 'readout error';
        return;
      }
      const r = JSON.parse(text);
      this.status.textContent = `Published ${body.name} (${r.marking})`;
      this.status.className = 'readout';
      this.status.dataset.uid = r.uid;
      this.cancel();
    } catch (err) {
      this.status.textContent = `Not published: ${err.message}`;
      this.status.className = 'readout error';
    }
  }
}
