// The cyber panel and cyber effects on the map.
//
// The panel reads the node's TAXII 2.1 server (the same origin, as the
// page's principal): its collections, and in each the indicators,
// incidents, sightings and observed data this principal may see, each with
// its marking (read from the Kizuna marking definitions beside the
// objects) and a banner of everything the panel shows. Units named by an
// incident or a sighting (x_kizuna_affected_uids) get a cyber ring on the
// map and a "Cyber" row in their detail panel, from /api/v1/cyber/effects.
// A sighting the viewer's nation originated, in a collection it may write,
// has a Release control: it widens the sighting's releasability to the
// nations typed (POST /api/v1/cyber/release), which the server audits
// and federates.

import { combine, normalizeLevel } from './marking.js';
import { el, markingBadge } from './panels.js';
import { readSignal, repaint, serialized } from './refresh.js';

const TAXII = 'application/taxii+json;version=2.1';
const KIZUNA_EXT = 'extension-definition--6b1f3a0e-4d2c-4c0b-9a7e-2f5d8c1e9b40';
const TLP = {
  'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487': 'TLP:CLEAR',
  'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb': 'TLP:GREEN',
  'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421': 'TLP:AMBER',
  'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003': 'TLP:AMBER+STRICT',
  'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1': 'TLP:RED',
};
const SHOWN = ['indicator', 'incident', 'sighting', 'observed-data'];
const POLL_MS = 3000;

async function taxii(path) {
  const res = await fetch(path, { headers: { Accept: TAXII }, signal: readSignal() });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

// allObjects follows the pages of one collection's objects.
async function allObjects(root, id) {
  const out = [];
  let next = '';
  for (let i = 0; i < 50; i++) {
    const q = `${root}collections/${encodeURIComponent(id)}/objects/?limit=1000${next ? `&next=${encodeURIComponent(next)}` : ''}`;
    const env = await taxii(q);
    out.push(...(env.objects || []));
    if (!env.more || !env.next) break;
    next = env.next;
  }
  return out;
}

function labelOf(o, marks) {
  for (const ref of o.object_marking_refs || []) {
    const m = marks.get(ref);
    if (m) return m;
  }
  return null;
}

function tlpOf(o) {
  return (o.object_marking_refs || []).map((r) => TLP[r]).filter(Boolean);
}

function summary(o) {
  if (o.type === 'indicator') return o.name || o.pattern;
  if (o.type === 'incident') return o.name;
  if (o.type === 'sighting') return o.description || `sighting of ${o.sighting_of_ref}`;
  if (o.type === 'observed-data') return `${o.number_observed}× observed ${o.first_observed}`;
  return o.id;
}

export function startCyber({ map, store, detailBox, pane, tab }) {
  const state = { collections: [], objects: [], effects: [], banner: null, polls: 0, nation: '', drafts: new Map(), released: 0 };

  function canRelease(x) {
    const c = state.collections.find((k) => k.id === x.collection);
    return x.o.type === 'sighting' && x.label && state.nation && x.label.originator === state.nation && c && c.can_write;
  }

  async function release(x, input) {
    const to = input.value.split(/[\s,]+/).map((n) => n.trim().toUpperCase()).filter(Boolean);
    if (!to.length) return;
    const res = await fetch('api/v1/cyber/release', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ collection: x.collection, id: x.o.id, releasableTo: to }) });
    state.lastRelease = { id: x.o.id, status: res.status, text: await res.text() };
    if (res.ok) {
      state.released++;
      state.drafts.delete(x.o.id);
      input.value = '';
    }
    await poll();
  }

  function releaseControl(x) {
    if (!canRelease(x)) return null;
    const input = el('input', { class: 'cyber-release-to', placeholder: 'nations, e.g. USA', size: 12, 'aria-label': 'Release to nations',
      oninput: (e) => state.drafts.set(x.o.id, e.target.value) });
    input.value = state.drafts.get(x.o.id) || '';
    return el('span', { class: 'cyber-release' }, input,
      el('button', { class: 'cyber-release-btn', type: 'button', onclick: () => release(x, input) }, 'Release'));
  }
  const rings = L.layerGroup().addTo(map);

  function render() {
    const labels = state.objects.map((x) => x.label).filter(Boolean);
    const b = combine(labels);
    state.banner = b;
    const groups = () => SHOWN.map((t) => {
      const rows = state.objects.filter((x) => x.o.type === t);
      return el('section', { class: 'cyber-group', dataset: { type: t } },
        el('h3', {}, `${t} (${rows.length})`),
        rows.map((x) => el('div', { class: 'cyber-row', dataset: { id: x.o.id, collection: x.collection } },
          x.label ? markingBadge(x.label) : el('span', { class: 'mk', dataset: { level: 'UNMARKED' } }, 'UNMARKED'),
          tlpOf(x.o).map((t2) => el('span', { class: 'tlp' }, t2)),
          el('span', { class: 'cyber-summary' }, summary(x.o)),
          (x.o.x_kizuna_affected_uids || []).length ? el('span', { class: 'cyber-units' }, ` → ${(x.o.x_kizuna_affected_uids || []).join(', ')}`) : null,
          releaseControl(x),
        )),
      );
    });
    // Repainted only when what it shows changed: a repaint under the
    // pointer can swallow a click on Release.
    repaint(pane, [b, state.collections, state.objects, state.nation], () => [
      el('div', { class: 'banner cyber-banner', id: 'cyber-banner', dataset: { level: b.level } }, b.text),
      el('div', { class: 'cyber-collections' }, state.collections.map((c) => el('div', { class: 'cyber-collection', dataset: { id: c.id } },
        c.title, ' ', el('small', {}, `${c.can_read ? 'read' : ''}${c.can_write ? ' write' : ''}`)))),
      ...groups(),
    ]);
  }

  function drawRings() {
    rings.clearLayers();
    const byUID = new Map();
    for (const e of state.effects) {
      if (!byUID.has(e.uid)) byUID.set(e.uid, []);
      byUID.get(e.uid).push(e);
    }
    for (const [uid, effs] of byUID) {
      const o = store.objects.get(uid);
      if (!o || !Number.isFinite(o.lat) || !Number.isFinite(o.lon)) continue;
      const level = normalizeLevel(effs[0].label?.classification) || 'UNMARKED';
      L.circleMarker([o.lat, o.lon], { radius: 22, color: '#d0021b', weight: 3, fill: false, dashArray: '4 3', className: `cyber-ring cyber-ring-${level.replace(' ', '-')}` })
        .bindTooltip(`Cyber: ${effs.map((e) => e.name || e.type).join('; ')}`)
        .addTo(rings);
    }
    state.ringCount = rings.getLayers().length;
  }

  function decorateDetail() {
    const uid = detailBox.querySelector('dd[data-field="UID"]')?.textContent;
    const old = detailBox.querySelector('.cyber-status');
    const effs = uid ? state.effects.filter((e) => e.uid === uid) : [];
    const text = effs.map((e) => `${e.type}: ${e.name || e.stixId} (${e.marking})`).join('; ');
    if (old && old.dataset.text === text) return;
    old?.remove();
    if (!effs.length) return;
    detailBox.append(el('div', { class: 'cyber-status', dataset: { text } },
      el('strong', {}, 'Cyber status: '), effs.length === 1 ? 'affected' : `affected (${effs.length})`,
      el('ul', {}, effs.map((e) => el('li', {}, markingBadge(e.label), ` ${e.type}: ${e.name || e.stixId}`)))));
  }
  new MutationObserver(() => decorateDetail()).observe(detailBox, { childList: true });

  const poll = serialized(async () => {
    try {
      if (!state.nation) {
        const who = await fetch('api/v1/whoami', { signal: readSignal() });
        if (who.ok) state.nation = ((await who.json()).principal || {}).nation || '';
      }
      const disc = await taxii('/taxii2/');
      const root = new URL(disc.default).pathname;
      const cols = (await taxii(`${root}collections/`)).collections || [];
      state.collections = cols;
      const objects = [];
      for (const c of cols.filter((x) => x.can_read)) {
        const objs = await allObjects(root, c.id);
        const marks = new Map();
        for (const o of objs) {
          const k = o.type === 'marking-definition' && o.extensions && o.extensions[KIZUNA_EXT];
          if (k) marks.set(o.id, { classification: k.classification, releasableTo: k.releasable_to || [], originator: k.originator, caveat: k.caveat });
        }
        for (const o of objs) {
          if (SHOWN.includes(o.type)) objects.push({ o, collection: c.id, label: labelOf(o, marks) });
        }
      }
      state.objects = objects;
      const res = await fetch('api/v1/cyber/effects', { signal: readSignal() });
      if (res.ok) state.effects = (await res.json()).effects || [];
      tab.hidden = false;
      // Not while the operator types nations to release to.
      if (!pane.contains(document.activeElement) || !document.activeElement.classList.contains('cyber-release-to')) render();
      drawRings();
      decorateDetail();
      state.polls++;
    } catch (err) {
      state.error = String(err);
    }
  });
  // The first poll waits a moment: the page's own snapshot comes first.
  setTimeout(() => {
    poll();
    setInterval(poll, POLL_MS);
  }, 1000);
  return state;
}
