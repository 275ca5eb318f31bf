// Drawings as shapes: an object whose JSON carries a shape (a CoT u-d-…
// drawing: polyline, rectangle or polygon from its <link point> vertices,
// circle from its ellipse) is drawn as a line, an area or a circle on the
// map, under the symbols. One Leaflet path per drawing, made again only
// when the drawing changes, so updates of other objects cost no DOM work.

const L = globalThis.L;

export class ShapeLayer {
  // store: () => the store shown (live or replay); filter: the list filter.
  constructor(map, store, filter) {
    this.map = map;
    this.store = store;
    this.filter = filter;
    if (!map.getPane('kz-shapes')) map.createPane('kz-shapes').style.zIndex = '390'; // under the symbols' canvas
    this.renderer = L.svg({ padding: 0.5, pane: 'kz-shapes' });
    this.group = L.layerGroup().addTo(map);
    this.byUID = new Map(); // uid -> {o, layer}
    this.seen = null; // [store, version, filter key] last synchronised
  }

  // sync brings the paths in line with the store: new and changed drawings
  // are (re)made, gone ones removed, the rest left alone.
  sync() {
    const s = this.store();
    const f = this.filter;
    const fk = `${f.text}|${f.nation}|${f.affil}|${f.dim}`;
    if (this.seen && this.seen[0] === s && this.seen[1] === s.version && this.seen[2] === fk) return;
    this.seen = [s, s.version, fk];
    const keep = new Set();
    for (const o of s.objects.values()) {
      if (!o.shape || !this.filter.matches(o)) continue;
      keep.add(o.uid);
      const had = this.byUID.get(o.uid);
      if (had && had.o === o) continue;
      if (had) had.layer.remove();
      const layer = shapeOf(o, this.renderer);
      if (!layer) continue;
      layer.addTo(this.group);
      this.byUID.set(o.uid, { o, layer });
    }
    for (const [uid, had] of this.byUID) {
      if (!keep.has(uid)) {
        had.layer.remove();
        this.byUID.delete(uid);
      }
    }
  }
}

// shapeOf returns the Leaflet path of a drawing, or null.
export function shapeOf(o, renderer) {
  const sh = o.shape;
  const hostile = /^a-[hsjk]-/.test(o.type || '');
  const opt = {
    renderer, pane: 'kz-shapes', color: hostile ? '#c00' : '#0050c8', weight: 3, opacity: 0.9, interactive: false,
    className: `kz-shape kz-shape-${sh.kind}`,
  };
  const pts = (sh.points || []).filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  switch (sh.kind) {
    case 'line':
      return pts.length >= 2 ? L.polyline(pts, opt) : null;
    case 'area':
      return pts.length >= 3 ? L.polygon(pts, { ...opt, fillOpacity: 0.15 }) : null;
    case 'circle':
      return Number.isFinite(o.lat) && Number.isFinite(o.lon) && sh.radius > 0 ? L.circle([o.lat, o.lon], { ...opt, radius: sh.radius, fillOpacity: 0.1 }) : null;
  }
  return null;
}
