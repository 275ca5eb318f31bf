// Units, orders and federation panels. Each panel appears only when the node
// answers its endpoint with 200, so a node without a chain of command or
// without federation shows neither. A panel whose endpoint is missing is
// probed again only when the stream reconnects (a restarted node may have
// gained it), not on every tick. Everything shown is already filtered by
// label on the server.

import { el, markingBadge } from './panels.js';
import { readSignal, repaint, serialized } from './refresh.js';

const POLL_MS = 5000;
const $ = (id) => document.getElementById(id);

async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, signal: readSignal() });
  if (!res.ok) return { ok: false, status: res.status };
  return { ok: true, body: await res.json() };
}

async function sendJSON(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const msg = (data && (data.error || data.message)) || `HTTP ${res.status}`;
    throw new Error(msg);
  }
  return data;
}

function listOf(body, key) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body[key])) return body[key];
  return [];
}

// ---- Units and orders ------------------------------------------------------

function unitTree(units) {
  const byParent = new Map();
  const ids = new Set(units.map((u) => u.id));
  for (const u of units) {
    const p = u.parent && ids.has(u.parent) ? u.parent : '';
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(u);
  }
  const build = (parent) =>
    el(
      'ul',
      { class: 'tree' },
      (byParent.get(parent) || [])
        .sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id))
        .map((u) =>
          el(
            'li',
            { dataset: { unit: u.id } },
            el('span', {}, `${u.name || u.id}`),
            ' ',
            el('span', { class: 'muted' }, [u.nation, u.echelon].filter(Boolean).join(' · ')),
            byParent.has(u.id) ? build(u.id) : null,
          ),
        ),
    );
  return build('');
}

// Answers a recipient may give, in the order an order usually advances.
const RESPONSES = ['ACKNOWLEDGED', 'WILCO', 'EXECUTING', 'COMPLETE', 'CANTCO', 'FAILED'];
const FINAL = new Set(['COMPLETE', 'FAILED', 'CANCELLED', 'EXPIRED', 'CANTCO']);

// Readiness levels of a structured readiness report: the C-level and the
// four resource areas (personnel, equipment condition, supply, training).
function readinessView(r) {
  const x = r.readiness;
  if (!x) return el('div', { class: 'muted' }, `${r.kind}: ${r.text}`);
  const chip = (name, v) => el('span', { class: `rl rl-${v}`, dataset: { level: name } }, `${name}${v}`);
  return el(
    'div',
    { class: 'readiness', dataset: { readiness: `C${x.c}` } },
    el('b', {}, `READINESS C${x.c}`), ' ',
    chip('P', x.personnel), ' ', chip('R', x.equipment), ' ', chip('S', x.supply), ' ', chip('T', x.training),
    el('span', { class: 'muted' }, ` (equipment and supply ${x.source === 'sustainment' ? `from sustainment${x.colour ? `, ${x.colour}` : ''}` : 'as reported'})`),
    r.text ? el('div', { class: 'muted' }, r.text) : null,
  );
}

// drafts keeps what was typed in a card's fields across re-renders.
const drafts = new Map();
function draftInput(o, name, attrs, tag = 'input') {
  const key = `${o.id}:${name}`;
  const e = el(tag, { name, ...attrs });
  if (drafts.has(key)) e.value = drafts.get(key);
  e.addEventListener('input', () => drafts.set(key, e.value));
  e.addEventListener('change', () => drafts.set(key, e.value));
  return e;
}
// The deciding headquarters' answer to a routed support request: approve
// (with its own order to the unit asked), partly approve, or deny.
function decideBox(o, act) {
  const reason = draftInput(o, 'reason', { placeholder: 'Reason', title: 'Reason for the decision' });
  const text = draftInput(o, 'orderText', { placeholder: `Order to ${o.wanted || 'the unit'}`, title: 'The national order carrying out an approval' });
  const release = el('input', { type: 'checkbox', name: 'release', title: 'Release the national order to the requester' });
  release.checked = drafts.get(`${o.id}:releaseChecked`) === '1';
  release.addEventListener('change', () => drafts.set(`${o.id}:releaseChecked`, release.checked ? '1' : ''));
  const decide = (outcome) => {
    const body = { as: o.recipientUnit, outcome, reason: reason.value.trim() };
    if (outcome !== 'DENIED') {
      body.order = { recipient: o.wanted || o.recipientUnit, type: 'TASK', text: text.value.trim() || o.text, deadlineIn: '2h' };
      if (release.checked) body.order.releasableTo = [...new Set([...(o.label?.releasableTo || [])])];
    }
    act(o, 'decide', body);
  };
  return el(
    'div',
    { class: 'decide', dataset: { decideFor: o.id } },
    reason, text, el('label', {}, release, ' release order to requester'),
    el('button', { type: 'button', dataset: { decide: 'APPROVED' }, onclick: () => decide('APPROVED') }, 'Approve'),
    el('button', { type: 'button', dataset: { decide: 'PARTLY_APPROVED' }, onclick: () => decide('PARTLY_APPROVED') }, 'Partly approve'),
    el('button', { type: 'button', dataset: { decide: 'DENIED' }, onclick: () => decide('DENIED') }, 'Deny'),
  );
}

// The recipient's answer to a report request: a SITREP, or a readiness
// report with its levels (equipment and supply come from sustainment when
// the node has them).
function reportBox(o, act) {
  const text = draftInput(o, 'reportText', { placeholder: 'Report text', title: 'SITREP text or readiness remarks' });
  const sel = (name, title, optional) => {
    const s = draftInput(o, name, { title }, 'select');
    s.replaceChildren(...(optional ? [el('option', { value: '' }, `${title[0]}?`)] : []), ...[1, 2, 3, 4].map((n) => el('option', { value: String(n) }, `${title[0]}${n}`)));
    const key = `${o.id}:${name}`;
    if (drafts.has(key)) s.value = drafts.get(key);
    return s;
  };
  const p = sel('personnel', 'Personnel');
  const r = sel('equipment', 'Equipment condition (R), if sustainment has none', true);
  const s = sel('supply', 'Supply, if sustainment has none', true);
  const t = sel('training', 'Training');
  const readiness = () => {
    const lv = { personnel: Number(p.value), training: Number(t.value) };
    if (r.value) lv.equipment = Number(r.value);
    if (s.value) lv.supply = Number(s.value);
    act(o, 'report', { as: o.recipientUnit, kind: 'READINESS', text: text.value.trim(), readiness: lv });
  };
  return el(
    'div',
    { class: 'report', dataset: { reportFor: o.id } },
    text,
    el('button', { type: 'button', dataset: { report: 'SITREP' }, onclick: () => act(o, 'report', { as: o.recipientUnit, kind: 'SITREP', text: text.value.trim() }) }, 'Send SITREP'),
    el('div', {}, p, r, s, t, el('button', { type: 'button', dataset: { report: 'READINESS' }, onclick: readiness }, 'Send readiness report')),
  );
}

function orderCard(o, mine, act) {
  const state = o.state || '?';
  const canAnswer = mine.has(o.recipientUnit) && !FINAL.has(state);
  const canCancel = mine.has(o.issuerUnit) && !FINAL.has(state);
  // A routed request is answered with a decision, not WILCO or CANTCO.
  const undecided = o.via && !o.outcome && o.type === 'SUPPORT_REQUEST';
  const responses = undecided ? ['ACKNOWLEDGED'] : RESPONSES;
  return el(
    'div',
    { class: 'order', dataset: { order: o.id, state } },
    el('span', { class: 'state' }, state),
    el('div', {}, el('b', {}, `${o.id} ${o.family ? o.family + ' ' : ''}${o.type || 'ORDER'}`), ' ', markingBadge(o.label)),
    el('div', { class: 'muted' }, `${o.issuerUnit || '?'} → ${o.recipientUnit || '?'}`),
    o.serial ? el('div', { class: 'muted', dataset: { serial: o.serial } }, `${o.serial} ${o.dtg || ''}`) : null,
    o.changes ? el('div', { class: 'muted' }, `changes ${o.changes}`) : null,
    o.via ? el('div', { class: 'muted' }, `via ${o.via}${o.wanted ? ` for ${o.wanted}` : ''}${o.outcome ? ` · ${o.outcome}` : ''}`) : null,
    o.request ? el('div', { class: 'muted' }, `answers request ${o.request}`) : null,
    o.answer ? el('div', { class: 'muted', dataset: { answer: o.answer } }, `carried out by order ${o.answer}`) : null,
    o.origin ? el('div', { class: 'muted', dataset: { origin: o.origin } }, `from node ${o.origin}`) : null,
    o.info?.length ? el('div', { class: 'muted' }, `info: ${o.info.join(', ')}`) : null,
    el('div', {}, o.text || ''),
    o.paragraphs?.execution?.intent ? el('div', { class: 'muted' }, `intent: ${o.paragraphs.execution.intent}`) : null,
    o.net ? el('div', { class: 'muted' }, `NET ${String(o.net).replace('T', ' ').slice(0, 16)}Z`) : null,
    o.nlt ? el('div', { class: 'muted' }, `NLT ${String(o.nlt).replace('T', ' ').slice(0, 16)}Z`) : null,
    o.deadline ? el('div', { class: 'muted' }, `reply by ${String(o.deadline).replace('T', ' ').slice(0, 16)}Z`) : null,
    o.reports?.length ? el('div', {}, o.reports.map(readinessView)) : null,
    o.stateReason ? el('div', { class: 'muted' }, o.stateReason) : null,
    canAnswer && undecided ? decideBox(o, act) : null,
    canAnswer && o.type === 'REPORT_REQUEST' ? reportBox(o, act) : null,
    canAnswer
      ? el('div', {}, responses.map((r) => el('button', { type: 'button', dataset: { respond: r }, onclick: () => act(o, 'ack', { as: o.recipientUnit, state: r }) }, r === 'ACKNOWLEDGED' ? 'Acknowledge' : r)))
      : null,
    canCancel ? el('button', { type: 'button', dataset: { cancel: o.id }, onclick: () => act(o, 'cancel', { as: o.issuerUnit, reason: 'cancelled from the web map' }) }, 'Cancel') : null,
  );
}

function startOrders(store) {
  const tab = $('tab-orders');
  const pane = $('pane-orders');
  let units = [];
  let positions = [];
  const form = el(
    'form',
    { id: 'order-form' },
    el('select', { name: 'as', title: 'Issuing unit (a unit where you hold a position)' }),
    el('select', { name: 'recipient', title: 'Recipient unit', required: true }),
    el(
      'select',
      { name: 'type' },
      ['MOVEMENT', 'TASK', 'SUPPORT_REQUEST', 'REPORT_REQUEST'].map((t) => el('option', { value: t }, t)),
    ),
    el(
      'select',
      { name: 'family', title: 'Order family (OPORD by default for tasks and movements)' },
      ['', 'WARNORD', 'OPORD', 'FRAGORD', 'EXORD'].map((t) => el('option', { value: t }, t || '(family)')),
    ),
    el('input', { name: 'changes', placeholder: 'changes order (FRAGORD)', title: 'The order a FRAGORD changes' }),
    el('textarea', { name: 'text', rows: 2, placeholder: 'Order text', required: true }),
    el('input', { name: 'deadlineIn', value: '2h', title: 'Reply by, from now, e.g. 2h' }),
    el('button', { type: 'submit' }, 'Issue order'),
  );
  const status = el('div', { class: 'muted', id: 'order-status' });
  const treeBox = el('div', {});
  const ordersBox = el('div', { id: 'orders' });
  pane.append(
    el('div', { class: 'orders' }, el('h3', {}, 'Unit tree'), treeBox, el('h3', {}, 'Issue an order'), form, status, el('h3', {}, 'Orders'), ordersBox),
  );
  const say = (text, bad) => {
    status.className = bad ? 'error' : 'muted';
    status.textContent = text;
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const req = { recipient: f.get('recipient'), type: f.get('type'), text: f.get('text') };
    if (f.get('deadlineIn')) req.deadlineIn = f.get('deadlineIn');
    if (f.get('family')) req.family = f.get('family');
    if (f.get('changes')) req.changes = f.get('changes').trim();
    if (f.get('as')) req.as = f.get('as');
    try {
      const o = await sendJSON('POST', 'api/v1/orders', req);
      say(`issued ${o?.id || ''}`, false);
      form.elements.text.value = '';
    } catch (err) {
      say(`refused: ${err.message}`, true);
    }
    refresh();
  });

  const act = async (o, verb, body) => {
    try {
      const r = await sendJSON('POST', `api/v1/orders/${encodeURIComponent(o.id)}/${verb}`, body);
      const req = r?.request || r;
      say(`${o.id}: ${req?.outcome || req?.state || verb}${r?.order?.id ? ` (order ${r.order.id})` : ''}`, false);
      for (const k of [...drafts.keys()]) if (k.startsWith(`${o.id}:`)) drafts.delete(k);
    } catch (err) {
      say(`${o.id}: ${err.message}`, true);
    }
    refresh();
  };

  const fill = (sel, opts, first) => {
    const keep = sel.value;
    sel.replaceChildren(...(first ? [first] : []), ...opts);
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  };
  const fillUnits = () => {
    const name = (id) => units.find((u) => u.id === id)?.name || id;
    fill(form.elements.as, positions.map((p) => el('option', { value: p.unit }, `${p.unitName || name(p.unit)}${p.title ? ` (${p.title})` : ''}`)), positions.length ? null : el('option', { value: '' }, 'No position held'));
    fill(form.elements.recipient, units.map((u) => el('option', { value: u.id }, `${u.name || u.id} (${u.nation || '?'})`)));
  };

  let lastUnits = '';
  let enabled = true;
  const refresh = serialized(async () => {
    if (!enabled) return;
    try {
      const u = await getJSON('api/v1/units');
      if (!u.ok) {
        tab.hidden = true;
        enabled = false;
        return;
      }
      tab.hidden = false;
      units = listOf(u.body, 'units');
      const me = await getJSON('api/v1/authority/me');
      positions = me.ok ? listOf(me.body, 'positions') : [];
      const key = JSON.stringify([units, positions]);
      if (key !== lastUnits) {
        lastUnits = key;
        treeBox.replaceChildren(unitTree(units));
        fillUnits();
      }
      const o = await getJSON('api/v1/orders');
      if (o.ok) {
        const mine = new Set(positions.map((p) => p.unit));
        const orders = listOf(o.body, 'orders');
        // What the panel shows counts for the banner.
        store.setPanelLabels('orders', [...units.map((x) => x.label), ...orders.map((x) => x.label)]);
        repaint(ordersBox, [orders, [...mine]], () => (orders.length ? orders.map((x) => orderCard(x, mine, act)) : el('div', { class: 'muted' }, 'No orders')));
      }
    } catch {
      // The node may be restarting; try again on the next tick.
    }
  });

  // Order changes arrive as server-sent events; each one refreshes the
  // panel. The poll is the fallback while the event stream reconnects.
  let events = null;
  const listen = () => {
    if (events || !enabled || typeof EventSource === 'undefined') return;
    events = new EventSource('api/v1/orders/stream');
    let pending = null;
    const changed = () => {
      if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 100);
    };
    for (const name of ['snapshot', 'order', 'message']) events.addEventListener(name, changed);
    events.onmessage = changed;
  };
  refresh().then(listen);
  setInterval(refresh, POLL_MS);
  return () => {
    enabled = true;
    refresh().then(listen);
  };
}

// ---- Federation ------------------------------------------------------------

function linkUp(p) {
  const s = String(p.state ?? p.status ?? '').toLowerCase();
  if (typeof p.connected === 'boolean') return p.connected;
  if (typeof p.up === 'boolean') return p.up;
  return ['up', 'connected', 'established', 'online', 'ok'].includes(s);
}

function startFederation() {
  const tab = $('tab-federation');
  const pane = $('pane-federation');
  const top = $('fedstatus');
  const box = el('div', { class: 'fed' });
  pane.append(box);
  let enabled = true;
  const poll = serialized(async () => {
    if (!enabled) return;
    try {
      const r = await getJSON('api/v1/federation');
      if (!r.ok) {
        tab.hidden = true;
        top.hidden = true;
        enabled = false;
        return;
      }
      tab.hidden = false;
      const peers = listOf(r.body, 'peers').concat(listOf(r.body, 'links'));
      const up = peers.filter(linkUp).length;
      top.hidden = peers.length === 0;
      top.textContent = `federation ${up}/${peers.length} up`;
      top.className = up === peers.length ? 'fed-up' : 'fed-down';
      const cols = ['name', 'nation', 'state', 'addr', 'classification', 'since', 'queue', 'lagSeconds', 'sent', 'received', 'withheld', 'lastError'];
      box.replaceChildren(
        el('h3', {}, 'Federation links'),
        peers.length
          ? el(
              'table',
              {},
              el('tr', {}, cols.filter((c) => peers.some((p) => p[c] !== undefined)).map((c) => el('th', {}, c))),
              peers.map((p) =>
                el(
                  'tr',
                  { class: linkUp(p) ? 'fed-up' : 'fed-down', dataset: { peer: p.name || p.id || '' } },
                  cols.filter((c) => peers.some((q) => q[c] !== undefined)).map((c) => el('td', {}, p[c] ?? '')),
                ),
              ),
            )
          : el('div', { class: 'muted' }, 'No peers configured'),
      );
    } catch {
      // Try again on the next tick.
    }
  });
  poll();
  setInterval(poll, POLL_MS);
  return () => {
    enabled = true;
    poll();
  };
}

// startOps starts the panels and returns a function that probes the missing
// ones again.
export function startOps(store) {
  const again = [startOrders(store), startFederation()];
  return () => again.forEach((f) => f());
}
