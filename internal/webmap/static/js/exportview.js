// Export of the current view: the objects the user sees (in the map's
// bounds and matching the list filters) as GeoJSON or KML. The node
// builds the file (POST /api/v1/export), so it holds only what
// label.Releasable lets this principal see, with every object's marking
// and the file's overall marking inside, and that marking in its name.

import { el } from './panels.js';

const L = globalThis.L;

// viewUIDs returns the uids of the objects in view that pass the filter.
export function viewUIDs(map, store, filter) {
  const b = map.getBounds();
  const out = [];
  for (const o of store.objects.values()) if (filter.matches(o) && b.contains([o.lat, o.lon])) out.push(o.uid);
  return out;
}

function fileName(res, format) {
  const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  return m ? m[1] : `kizuna-view.${format}`;
}

export class Exporter {
  // ctx: {map, store: () => Store, filter, replaying: () => bool}
  constructor(ctx, parent) {
    this.ctx = ctx;
    this.status = el('span', { id: 'export-status', class: 'readout', 'aria-live': 'polite' });
    const b = (format, text) => el('button', { type: 'button', id: `export-${format}`, title: `Export the current view as ${text}`, onclick: () => this.export(format) }, text);
    parent.append(el('div', { class: 'tool-row', role: 'group', 'aria-label': 'Export view' }, b('geojson', 'GeoJSON'), b('kml', 'KML'), this.status));
  }

  async export(format) {
    if (this.ctx.replaying()) {
      this.status.textContent = 'Export shows the live view: go back to live first';
      return null;
    }
    const uids = viewUIDs(this.ctx.map, this.ctx.store(), this.ctx.filter);
    const res = await fetch('api/v1/export', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ format, uids }) });
    if (!res.ok) {
      this.status.textContent = `Export failed (${res.status})`;
      return null;
    }
    const name = fileName(res, format);
    const blob = await res.blob();
    const a = el('a', { href: URL.createObjectURL(blob), download: name, hidden: true });
    document.body.append(a);
    a.click();
    setTimeout(() => {
      URL.revokeObjectURL(a.href);
      a.remove();
    }, 1000);
    this.status.textContent = `${uids.length} in view → ${name}`;
    return name;
  }
}
