// Units, orders and federation panels. Each panel appears only when the node
// answers its endpoint with 200, so a node without a chain of command or
// without federation shows neither. A panel whose endpoint is missing is
// probed again only when the stream reconnects (a restarted node may have
// gained it), not on every tick. Everything shown is already filtered by
// label on the server.

import { el, markingBadge } from './panels.js';

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
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

// Responses a recipient may give, in the order an order usually advances.
const RESPONSES = ['ACKNOWLEDGED', 'WILCO', 'EXECUTING', 'COMPLETE', 'CANTCO', 'FAILED'];
const FINAL = new Set(['COMPLETE', 'FAILED', 'CANCELLED', 'EXPIRED', 'CANTCO']);

function orderCard(o, onRespond) {
  const state = o.state || '?';
  return el(
    'div',
    { class: 'order', dataset: { order: o.id, state } },
    el('span', { class: 'state' }, state),
    el('div', {}, el('b', {}, o.type || 'ORDER'), ' ', markingBadge(o.label)),
    el('div', { class: 'muted' }, `${o.issuerUnit || '?'} → ${o.recipientUnit || '?'}`),
    el('div', {}, o.text || ''),
    o.deadline ? el('div', { class: 'muted' }, `deadline ${o.deadline}`) : null,
    FINAL.has(state)
      ? null
      : el(
          'div',
          {},
          RESPONSES.map((r) =>
            el('button', { type: 'button', dataset: { respond: r }, onclick: () => onRespond(o, r) }, r === 'ACKNOWLEDGED' ? 'Acknowledge' : r),
          ),
        ),
  );
}

function startOrders() {
  const tab = $('tab-orders');
  const pane = $('pane-orders');
  let units = [];
  let message = '';
  const form = el(
    'form',
    { id: 'order-form' },
    el('select', { name: 'as', title: 'Issuing unit' }),
    el('select', { name: 'recipient', title: 'Recipient unit', required: true }),
    el(
      'select',
      { name: 'type' },
      ['MOVEMENT', 'TASK', 'SUPPORT_REQUEST', 'REPORT_REQUEST'].map((t) => el('option', { value: t }, t)),
    ),
    el('textarea', { name: 'text', rows: 2, placeholder: 'Order text', required: true }),
    el('input', { name: 'deadlineIn', value: '2h', title: 'Deadline from now, e.g. 2h' }),
    el('button', { type: 'submit' }, 'Issue order'),
  );
  const status = el('div', { class: 'muted', id: 'order-status' });
  const treeBox = el('div', {});
  const ordersBox = el('div', { id: 'orders' });
  pane.append(
    el('div', { class: 'orders' }, el('h3', {}, 'Unit tree'), treeBox, el('h3', {}, 'Issue an order'), form, status, el('h3', {}, 'Orders'), ordersBox),
  );

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const req = { recipient: f.get('recipient'), type: f.get('type'), text: f.get('text'), deadlineIn: f.get('deadlineIn') || undefined };
    if (f.get('as')) req.as = f.get('as');
    try {
      const o = await sendJSON('POST', 'api/v1/orders', req);
      message = `issued ${o?.id || ''}`;
      status.className = 'muted';
      form.elements.text.value = '';
    } catch (err) {
      message = `refused: ${err.message}`;
      status.className = 'error';
    }
    status.textContent = message;
    poll();
  });

  const respond = async (o, state) => {
    try {
      await sendJSON('POST', `api/v1/orders/${encodeURIComponent(o.id)}/respond`, { state });
      status.className = 'muted';
      status.textContent = `${o.id}: ${state}`;
    } catch (err) {
      status.className = 'error';
      status.textContent = `${o.id}: ${err.message}`;
    }
    poll();
  };

  const fillUnits = () => {
    const opts = units.map((u) => el('option', { value: u.id }, `${u.name || u.id} (${u.nation || '?'})`));
    for (const name of ['as', 'recipient']) {
      const sel = form.elements[name];
      const keep = sel.value;
      sel.replaceChildren(...(name === 'as' ? [el('option', { value: '' }, 'Acting unit (default)')] : []), ...opts.map((o) => o.cloneNode(true)));
      sel.value = keep;
    }
  };

  let lastUnits = '';
  let enabled = true;
  async function poll() {
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
      const key = JSON.stringify(units);
      if (key !== lastUnits) {
        lastUnits = key;
        treeBox.replaceChildren(unitTree(units));
        fillUnits();
      }
      const o = await getJSON('api/v1/orders');
      if (o.ok) {
        const orders = listOf(o.body, 'orders').sort((a, b) => String(b.created || '').localeCompare(String(a.created || '')));
        ordersBox.replaceChildren(...(orders.length ? orders.map((x) => orderCard(x, respond)) : [el('div', { class: 'muted' }, 'No orders')]));
      }
    } catch {
      // The node may be restarting; try again on the next tick.
    }
  }
  poll();
  setInterval(poll, POLL_MS);
  return () => {
    enabled = true;
    poll();
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
  async function poll() {
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
      const cols = ['name', 'state', 'address', 'classification', 'lastSeen', 'sent', 'received', 'queued'];
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
  }
  poll();
  setInterval(poll, POLL_MS);
  return () => {
    enabled = true;
    poll();
  };
}

// startOps starts the panels and returns a function that probes the missing
// ones again.
export function startOps() {
  const again = [startOrders(), startFederation()];
  return () => again.forEach((f) => f());
}
