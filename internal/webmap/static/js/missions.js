// The missions panel: TAK missions (Data Sync workspaces) through the
// node's Mission API (/Marti/api/missions, the same origin, as the page's
// principal). It lists the missions this principal may see, opens one to
// show its items (each with its own marking), its change log and log, and
// rings its objects on the map; it subscribes this page and files the
// selected object. Everything shown is what the server released to this
// principal: the panel filters nothing itself.

import { el, markingBadge } from './panels.js';
import { readSignal, repaint, serialized } from './refresh.js';

const API = '/Marti/api/missions';
const POLL_MS = 3000;

async function call(method, path, body) {
  // Reads give up in time; an action waits for its answer.
  const init = { method, headers: {}, signal: method === 'GET' ? readSignal() : undefined };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
  const t = await res.text();
  return t ? JSON.parse(t) : null;
}

// pageUid names this page as a mission subscriber.
function pageUid() {
  let u = sessionStorage.getItem('kizuna-mission-uid');
  if (!u) {
    u = `kizuna-web-${crypto.randomUUID()}`;
    sessionStorage.setItem('kizuna-mission-uid', u);
  }
  return u;
}

export function startMissions({ map, pane, tab, selected }) {
  const state = { missions: [], open: null, view: null, polls: 0, error: null, subscribed: new Set() };
  const rings = L.layerGroup().addTo(map);
  const uid = pageUid();
  const path = (name, rest = '') => `${API}/${encodeURIComponent(name)}${rest}`;

  function drawRings() {
    rings.clearLayers();
    for (const u of state.view?.uids || []) {
      const loc = u.details?.location;
      if (!loc || !Number.isFinite(loc.lat) || !Number.isFinite(loc.lon)) continue;
      L.circleMarker([loc.lat, loc.lon], { radius: 18, color: '#7b2cbf', weight: 2, fill: false, className: 'mission-ring' })
        .bindTooltip(`${state.view.name}: ${u.details.callsign || u.data}`)
        .addTo(rings);
    }
    state.ringCount = rings.getLayers().length;
  }

  function renderOpen() {
    const v = state.view;
    if (!v) return null;
    const items = [
      ...v.uids.map((u) => el('li', { class: 'mission-item', dataset: { uid: u.data } }, markingBadge(u.label), ` ${u.details?.callsign || u.data} `, el('small', {}, u.details?.type || ''))),
      ...v.contents.map((c) => el('li', { class: 'mission-item', dataset: { hash: c.data.hash } }, markingBadge(c.label), ` ${c.data.name}`)),
    ];
    const changes = (v.missionChanges || []).map((c) => el('li', { class: 'mission-change' }, markingBadge(c.label),
      ` ${c.timestamp} ${c.type} ${c.details?.callsign || c.contentUid || c.contentResource?.name || ''}`));
    const logs = (v.logs || []).map((l) => el('li', { class: 'mission-log' }, markingBadge(l.label), ` ${l.dtg} ${l.content}`));
    return el('div', { class: 'mission-open', dataset: { name: v.name } },
      el('h3', {}, v.name, ' ', markingBadge(v.label)),
      v.description ? el('p', {}, v.description) : null,
      el('div', { class: 'mission-actions' },
        el('button', { id: 'mission-subscribe', onclick: subscribe, disabled: state.subscribed.has(v.name) }, state.subscribed.has(v.name) ? 'Subscribed' : 'Subscribe'),
        el('button', { id: 'mission-add-selected', onclick: addSelected }, 'Add selected object'),
        el('button', { onclick: () => { state.open = null; state.view = null; render(); drawRings(); } }, 'Close')),
      el('h4', {}, `Items (${items.length})`), el('ul', { class: 'mission-items' }, items),
      el('h4', {}, 'Changes'), el('ul', { class: 'mission-changes' }, changes),
      el('h4', {}, 'Log'), el('ul', { class: 'mission-logs' }, logs),
      state.error ? el('p', { class: 'mission-error' }, state.error) : null);
  }

  // The form is made once, so that what the operator types survives every
  // poll; the list and the open mission are repainted only when they change.
  const nameInput = el('input', { id: 'mission-new-name', placeholder: 'New mission name' });
  const relInput = el('input', { id: 'mission-new-rel', placeholder: 'Releasable to (e.g. KOR USA)' });
  const form = el('form', { class: 'mission-new', onsubmit: (e) => { e.preventDefault(); create(nameInput.value, relInput.value); } },
    nameInput, relInput, el('button', { type: 'submit' }, 'Create'));
  const list = el('ul', { class: 'mission-list' });
  const openBox = el('div', { class: 'mission-open-box' });
  pane.replaceChildren(form, list, openBox);

  function render() {
    repaint(list, state.missions, () => state.missions.map((m) => el('li', { class: 'mission-row', dataset: { name: m.name } },
      el('a', { href: '#', onclick: (e) => { e.preventDefault(); open(m.name); } }, m.name), ' ', markingBadge(m.label),
      el('small', {}, ` ${m.uids.length + m.contents.length} items`))));
    const v = state.view;
    repaint(openBox, [v, v && state.subscribed.has(v.name), state.error], () => renderOpen() ?? []);
  }

  async function refreshOpen() {
    if (!state.open) return;
    try {
      const r = await call('GET', path(state.open, '?changes=true&logs=true'));
      state.view = r.data[0];
    } catch {
      state.view = null;
      state.open = null;
    }
    drawRings();
  }

  async function open(name) {
    state.open = name;
    state.error = null;
    await refreshOpen();
    render();
  }

  async function create(name, rel) {
    name = name.trim();
    if (!name) return;
    const r = rel.trim().toUpperCase().split(/[\s,]+/).filter(Boolean);
    const q = new URLSearchParams({ creatorUid: uid });
    if (r.length) {
      // Shared: at the page principal's clearance (the server refuses
      // anything above it).
      q.set('access', state.clearance || 'UNCLASSIFIED');
      q.set('releasableTo', r.join(' '));
    }
    try {
      await call('PUT', `${path(name)}?${q}`);
      state.subscribed.add(name);
      nameInput.value = '';
      relInput.value = '';
      await poll();
      await open(name);
    } catch (err) {
      state.error = String(err);
      render();
    }
  }

  async function subscribe() {
    if (!state.open) return;
    try {
      await call('PUT', path(state.open, `/subscription?uid=${encodeURIComponent(uid)}`));
      state.subscribed.add(state.open);
    } catch (err) {
      state.error = String(err);
    }
    render();
  }

  async function addSelected() {
    const u = selected();
    if (!state.open || !u) return;
    try {
      await call('PUT', path(state.open, `/contents?creatorUid=${encodeURIComponent(uid)}`), { uids: [u] });
      state.error = null;
    } catch (err) {
      state.error = String(err);
    }
    await refreshOpen();
    render();
  }

  const poll = serialized(async () => {
    try {
      const r = await call('GET', API);
      state.missions = r.data || [];
      if (!state.clearance) {
        const w = await fetch('api/v1/whoami', { signal: readSignal() }).then((x) => (x.ok ? x.json() : null)).catch(() => null);
        state.clearance = w?.clearance || w?.principal?.clearance;
      }
      await refreshOpen();
      tab.hidden = false;
      render();
      state.polls++;
    } catch (err) {
      state.error = String(err);
    }
  });
  poll();
  setInterval(poll, POLL_MS);
  state.openMission = open;
  return state;
}
