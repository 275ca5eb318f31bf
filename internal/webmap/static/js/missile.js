// Missile warning: for every missile track the page holds, an alert bar and,
// on the map, the launch point, the flight path and the predicted impact
// area. Driven entirely by the object data:
//
//   missile.launch = {lat, lon, time?}              launch point
//   missile.impact = {lat, lon, radius?, time?}     predicted impact (radius in metres)
//   missile.track  = [{lat, lon}, …]                flight path so far (else the trail)
//
// A track whose type is a missile in flight but carries no missile fields
// still raises the alert; its path is its stored history followed by its
// live trail, and its launch point the first position of that path.

import { el } from './panels.js';

const L = globalThis.L;

function ll(p) {
  const lat = Number(p?.lat);
  const lon = Number(p?.lon);
  return Number.isFinite(lat) && Number.isFinite(lon) ? [lat, lon] : null;
}

function fmt(p) {
  return p ? `${p[0].toFixed(2)}, ${p[1].toFixed(2)}` : 'unknown';
}

export class MissileWarnings {
  constructor(map, store, { onShow }) {
    this.map = map;
    this.store = store;
    this.onShow = onShow;
    this.group = L.layerGroup().addTo(map);
    // SVG, not the canvas the base map uses: few shapes, each one a DOM
    // element with a class an operator's tools and the tests can find.
    this.renderer = L.svg({ padding: 0.5 });
    this.box = document.getElementById('alerts');
    this.dismissed = new Set();
    this.drawnKey = '';
    this.history = new Map(); // uid -> [[lat, lon]] from the history API
  }

  // fetchHistory loads a missile track's path so far, once per track.
  async fetchHistory(uid) {
    this.history.set(uid, []);
    try {
      const res = await fetch(`api/v1/objects/${encodeURIComponent(uid)}/history?limit=1000`);
      if (!res.ok) return;
      const body = await res.json();
      const pts = (body.points || [])
        .slice()
        .sort((a, b) => String(a.time).localeCompare(String(b.time)))
        .map(ll)
        .filter(Boolean);
      this.history.set(uid, pts);
      this.drawnKey = '';
      this.update();
    } catch {
      // The live trail still draws the track.
    }
  }

  // update redraws the missile graphics; cheap when nothing changed.
  update() {
    const tracks = [];
    for (const uid of this.store.missiles) tracks.push(this.store.objects.get(uid));
    const key = tracks.map((o) => `${o.uid}@${o.time}@${o.trail.length}@${this.history.get(o.uid)?.length ?? -1}`).join('|');
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    this.group.clearLayers();
    const alerts = [];
    for (const uid of this.history.keys()) if (!this.store.objects.has(uid)) this.history.delete(uid);
    for (const o of tracks) {
      const m = o.missile || {};
      if (!this.history.has(o.uid)) this.fetchHistory(o.uid);
      const stored = this.history.get(o.uid) || [];
      const path = Array.isArray(m.track) && m.track.length ? m.track.map(ll).filter(Boolean) : stored.concat(o.trail);
      const here = ll(o);
      if (here && (path.length === 0 || path[path.length - 1][0] !== here[0] || path[path.length - 1][1] !== here[1])) path.push(here);
      const launch = ll(m.launch) || path[0] || null;
      const impact = ll(m.impact);
      if (launch) {
        L.circleMarker(launch, { radius: 6, color: '#7a0010', weight: 2, fillColor: '#fff', fillOpacity: 1, interactive: false, className: 'kz-launch', renderer: this.renderer })
          .bindTooltip('launch', { permanent: true, direction: 'left', className: 'kz-launch-label' })
          .addTo(this.group);
      }
      if (path.length > 1) {
        L.polyline(path, { color: '#c8102e', weight: 3, interactive: false, className: 'kz-missile-track', renderer: this.renderer }).addTo(this.group);
      }
      if (impact) {
        if (here) L.polyline([here, impact], { color: '#c8102e', weight: 2, dashArray: '6 6', interactive: false, className: 'kz-missile-predicted', renderer: this.renderer }).addTo(this.group);
        const radius = Number(m.impact.radius) > 0 ? Number(m.impact.radius) : 20000;
        L.circle(impact, { radius, color: '#c8102e', weight: 2, fillColor: '#ff3030', fillOpacity: 0.2, interactive: false, className: 'kz-impact', renderer: this.renderer }).addTo(this.group);
      }
      if (!this.dismissed.has(o.uid)) alerts.push({ o, launch, impact });
    }
    this.box.replaceChildren(
      ...alerts.map(({ o, launch, impact }) => {
        let eta = '';
        const it = Date.parse(o.missile?.impact?.time);
        if (Number.isFinite(it)) eta = ` · impact ${new Date(it).toISOString().slice(11, 19)}Z`;
        else if (o.missile?.timeToGo) eta = ` · time to impact ${o.missile.timeToGo}`;
        return el(
          'div',
          { class: 'alert', role: 'alert', dataset: { uid: o.uid } },
          el('span', {}, `MISSILE WARNING · ${o.callsign || o.uid} · launch ${fmt(launch)} · predicted impact ${fmt(impact)}${eta}`),
          el('button', { onclick: () => this.onShow(o.uid, [launch, impact, ll(o)].filter(Boolean)) }, 'Show'),
          el('button', { onclick: () => { this.dismissed.add(o.uid); this.drawnKey = ''; this.update(); } }, 'Dismiss'),
        );
      }),
    );
  }
}
