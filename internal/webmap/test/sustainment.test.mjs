// The Sustain panel against a real node: stocks, readiness, transfers,
// work orders and the forecast chart, seen by USA, JPN and KOR web
// listeners. US stock is labelled releasable to JPN only: the KOR page
// must show none of it, not a row, a total or a chart point.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, Pages, ensureArtifacts, patience } from './lib.mjs';

// Every principal of USA and JPN holds its nation's national position:
// the approvers of national stock (stock of no unit) under the chain of
// command. KOR holds none.
const ORBAT = {
  units: [
    { id: 'usa-nca', nation: 'USA', echelon: 'CCMD', name: 'USA national command', positions: [{ title: 'J4', national: true }] },
    { id: 'jpn-nca', nation: 'JPN', echelon: 'CCMD', name: 'JPN national command', positions: [{ title: 'J4', national: true }] },
  ],
};

const S = '/api/v1/sustainment/';
const usJpn = { classification: 'SECRET', releasableTo: ['JPN'] };

async function call(base, method, p, body) {
  const res = await fetch(base + S + p, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return JSON.parse(text);
}

describe('sustainment panel', { timeout: 900000 }, () => {
  let server;
  let browser;
  let pages; // each test's fresh page is made ready while the one before runs

  before(async () => {
    const dataDir = tempDir('kizuna-web-sustain-');
    const orbat = path.join(dataDir, 'orbat.json');
    writeFileSync(orbat, JSON.stringify(ORBAT));
    server = await new Server({ dataDir, args: [...serveArgs(), '--orbat', orbat] }).start();
    const usa = server.http.USA;
    const jpn = server.http.JPN;
    // The panel appears once the service has started.
    const { until } = await import('./lib.mjs');
    await until('sustainment API', async () => (await fetch(usa + S + 'stocks')).ok, 20000);
    await call(usa, 'POST', 'locations', { id: 'usa-patriot-btry', name: 'Patriot battery', kind: 'battery', lat: 26.37, lon: 127.74, label: usJpn });
    await call(usa, 'POST', 'locations', { id: 'usa-kadena', kind: 'depot', lat: 26.35, lon: 127.77, label: usJpn });
    await call(jpn, 'POST', 'locations', { id: 'jpn-komaki', kind: 'factory', lat: 35.28, lon: 136.92, label: { classification: 'SECRET', releasableTo: ['USA'] } });
    await call(usa, 'POST', 'movements', { item: 'PAC-3 MSE', from: 'PRODUCTION', to: 'usa-patriot-btry', quantity: 12, reason: 'production-acceptance', label: usJpn });
    await call(jpn, 'POST', 'movements', { item: 'PAC-3 MSE', from: 'PRODUCTION', to: 'jpn-komaki', quantity: 16, reason: 'production-acceptance', lot: 'MHI-1', label: { classification: 'SECRET', releasableTo: ['USA'] } });
    await call(usa, 'PUT', 'units/btry', { id: 'btry', name: '1-1 ADA Patriot', location: 'usa-patriot-btry', assets: [{ id: 'LS-1' }, { id: 'LS-2' }],
      required: { 'PAC-3 MSE': 16 }, safety: { 'PAC-3 MSE': 8 }, label: { classification: 'SECRET', releasableTo: ['JPN', 'KOR'] } });
    await call(usa, 'POST', 'engagements', { unit: 'btry', item: 'PAC-3 MSE', quantity: 6, track: 'MW-001', label: usJpn });
    await call(usa, 'POST', 'transfers', { item: 'PAC-3 MSE', quantity: 8, from: 'jpn-komaki', to: 'usa-kadena', label: usJpn });
    await call(usa, 'POST', 'workorders', { asset: 'DDG-65', facility: 'JMU Yokohama', type: 'hull repair', status: 'inducted',
      plannedCompletion: new Date(Date.now() + 30 * 86400000).toISOString(), label: usJpn });
    browser = await launchBrowser();
    pages = new Pages(browser);
  });

  after(async () => {
    await pages?.close();
    await browser?.close();
    await server?.stop();
  });

  it('shows US stock, readiness, transfers, work orders and the forecast chart to USA', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.USA));
    try {
      await page.waitForSelector('#tab-sustain:not([hidden])', { timeout: patience(15000) });
      await page.click('#tab-sustain');
      await page.waitForSelector('#sus-stocks tr[data-location="usa-patriot-btry"]', { timeout: patience(10000) });
      assert.match(await page.textContent('#sus-stocks tr[data-location="usa-patriot-btry"]'), /PAC-3 MSE.*USA.*6/);
      await page.waitForSelector('#sus-readiness tr[data-unit="btry"][data-colour="RED"]', { timeout: patience(10000) });
      assert.match(await page.textContent('#sus-readiness tr[data-unit="btry"]'), /PAC-3 MSE 6\/16/);
      await page.waitForSelector('#sus-transfers tr[data-state="requested"]');
      await page.waitForSelector('#sus-workorders tr[data-asset="DDG-65"][data-status="inducted"]');
      // The chart: an SVG line with points, the safety line, the breach.
      await page.waitForSelector('#sus-forecast svg.sus-chart path.series', { timeout: patience(10000) });
      const d = await page.getAttribute('#sus-forecast svg.sus-chart path.series', 'd');
      assert.ok(d.split('L').length >= 15, `chart path ${d}`);
      await page.waitForSelector('#sus-forecast svg.sus-chart line.safety', { state: 'attached' });
      assert.match(await page.textContent('#sus-breach'), /Below safety level 8/);
      // The panel's labels count for the banner.
      await page.waitForFunction(() => document.getElementById('banner-top').dataset.level === 'SECRET', null, { timeout: patience(10000) });
      await page.screenshot({ path: path.join(ensureArtifacts(), 'sustainment-usa.png') });
      assert.deepEqual(rec.outside, []);
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows JPN the US battery stock released to it', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.JPN));
    try {
      await page.waitForSelector('#tab-sustain:not([hidden])', { timeout: patience(15000) });
      await page.click('#tab-sustain');
      await page.waitForSelector('#sus-stocks tr[data-location="usa-patriot-btry"]', { timeout: patience(10000) });
      await page.waitForSelector('#sus-stocks tr[data-location="jpn-komaki"]');
      await page.waitForSelector('#sus-forecast svg.sus-chart path.series', { timeout: patience(10000) });
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows KOR nothing of US or JPN stock: no row, no readiness, no chart', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.KOR));
    try {
      await page.waitForSelector('#tab-sustain:not([hidden])', { timeout: patience(15000) });
      await page.click('#tab-sustain');
      await page.waitForFunction(() => /No stock to forecast/.test(document.getElementById('sus-forecast').textContent), null, { timeout: patience(10000) });
      // The forms list the public catalogue: the check is on what the panel shows of stock.
      const text = await page.$eval('#pane-sustain', (p) => {
        const c = p.cloneNode(true);
        c.querySelectorAll('form, datalist').forEach((f) => f.remove());
        return c.textContent;
      });
      for (const secret of ['usa-patriot-btry', 'jpn-komaki', 'PAC-3 MSE', 'DDG-65', 'btry']) {
        assert.ok(!text.includes(secret), `KOR panel shows ${secret}: ${text}`);
      }
      assert.equal(await page.$('#sus-forecast svg'), null);
      // The API agrees, in JSON, CSV, totals and forecast.
      const api = await page.evaluate(async () => {
        const get = async (p) => (await fetch(`api/v1/sustainment/${p}`)).text();
        return [await get('stocks'), await get('stocks?format=csv'), await get('totals'), await get('readiness'),
          await get('forecast?item=PAC-3+MSE&location=usa-patriot-btry&owner=USA')].join('\n');
      });
      assert.ok(!api.includes('usa-patriot-btry"') && !api.includes('"quantity":6') && !api.includes('PAC-3 MSE,'), api);
      await page.screenshot({ path: path.join(ensureArtifacts(), 'sustainment-kor.png') });
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });
  it('shows readiness in the unit panel and raises a map alert below the safety level', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.USA));
    try {
      // The alert needs no open tab: the battery is at 6 of a safety level of 8.
      await page.waitForSelector('#sus-alerts .sus-map-alert[data-unit="btry"]', { timeout: patience(20000) });
      assert.match(await page.textContent('#sus-alerts .sus-map-alert[data-unit="btry"]'), /READINESS RED.*below safety level/);
      await page.waitForSelector('path.kz-sus-alert', { state: 'attached', timeout: patience(10000) });
      // The unit panel: select the battery's readiness report on the map.
      const uid = await page.waitForFunction(() => [...globalThis.kizuna.store.objects.keys()]
        .find((u) => u.startsWith('sustain.readiness.') && u.endsWith('.btry')), null, { timeout: patience(20000) });
      await page.evaluate((u) => globalThis.kizuna.select(u), await uid.jsonValue());
      await page.waitForSelector('#detail #detail-readiness[data-colour="RED"]', { timeout: patience(10000) });
      assert.match(await page.textContent('#detail-readiness'), /Why: .*munitions at \d+% of required load/);
      await page.screenshot({ path: path.join(ensureArtifacts(), 'sustainment-unit-panel.png') });
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
    const kor = await pages.open(await pageURL(server.http.KOR));
    try {
      await kor.page.waitForSelector('#tab-sustain:not([hidden])', { timeout: patience(15000) });
      await kor.page.waitForFunction(() => document.getElementById('sus-readiness')?.textContent.length > 0, null, { timeout: patience(10000) });
      assert.equal(await kor.page.$$eval('#sus-alerts .sus-map-alert', (x) => x.length), 0);
      assert.equal(await kor.page.$('path.kz-sus-alert'), null);
    } finally {
      await kor.context.close();
    }
  });

  it('acts from the panels: approve on both sides, ship, receive, expend, open and close a work order', async () => {
    const usa = await pages.open(await pageURL(server.http.USA));
    const jpn = await pages.open(await pageURL(server.http.JPN));
    const open = async (p) => {
      await p.waitForSelector('#tab-sustain:not([hidden])', { timeout: patience(15000) });
      await p.click('#tab-sustain');
    };
    const click = async (p, sel, msg) => {
      await p.click(sel);
      await p.waitForFunction((m) => new RegExp(m).test(document.getElementById('sus-msg').textContent), msg, { timeout: patience(15000) });
    };
    try {
      await open(usa.page);
      await open(jpn.page);
      const row = '#sus-transfers tr[data-state="requested"]';
      await usa.page.waitForSelector(row, { timeout: patience(10000) });
      // Shipping is not offered before approval; receiving by the sender is refused by the server.
      await click(usa.page, `${row} button[data-act="approve"]`, 'Approve.*done');
      await click(jpn.page, `${row} button[data-act="approve"]`, 'Approve.*done');
      await jpn.page.waitForSelector('#sus-transfers tr[data-state="approved"] button[data-act="ship"]', { timeout: patience(10000) });
      await click(jpn.page, '#sus-transfers tr[data-state="approved"] button[data-act="ship"]', 'Ship.*done');
      await jpn.page.waitForSelector('#sus-transfers tr[data-state="shipped"] button[data-act="receive"]', { timeout: patience(10000) });
      await click(jpn.page, '#sus-transfers tr[data-state="shipped"] button[data-act="receive"]', 'Receive.*refused');
      await usa.page.waitForSelector('#sus-transfers tr[data-state="shipped"] button[data-act="receive"]', { timeout: patience(10000) });
      await click(usa.page, '#sus-transfers tr[data-state="shipped"] button[data-act="receive"]', 'Receive.*done');
      await usa.page.waitForSelector('#sus-transfers tr[data-state="received"]', { timeout: patience(10000) });
      await usa.page.waitForFunction(() => /PAC-3 MSE.*USA.*8/.test(document.querySelector('#sus-stocks tr[data-location="usa-kadena"]')?.textContent || ''), null, { timeout: patience(10000) });

      // Request a transfer from the form, and deny it.
      await usa.page.fill('#sus-xf-qty', '2');
      await usa.page.fill('#sus-xf-from', 'jpn-komaki');
      await usa.page.fill('#sus-xf-to', 'usa-patriot-btry');
      await usa.page.fill('#sus-xf-rel', 'JPN');
      await click(usa.page, '#sus-xf-form button[type="submit"]', 'Transfer request: done');
      await usa.page.waitForSelector('#sus-transfers tr[data-state="requested"]', { timeout: patience(10000) });
      await click(usa.page, '#sus-transfers tr[data-state="requested"] button[data-act="reject"]', 'Deny.*done');
      await usa.page.waitForSelector('#sus-transfers tr[data-state="rejected"]', { timeout: patience(10000) });
      // A refused request: a quantity of nothing.
      await usa.page.fill('#sus-xf-from', 'usa-nowhere');
      await click(usa.page, '#sus-xf-form button[type="submit"]', 'Transfer request: not found');

      // Record an expenditure from the battery: 6 → 4.
      await usa.page.selectOption('#sus-ex-unit', 'btry');
      await usa.page.selectOption('#sus-ex-item', 'PAC-3 MSE');
      await usa.page.fill('#sus-ex-qty', '2');
      await usa.page.fill('#sus-ex-track', 'MW-002');
      await usa.page.fill('#sus-ex-rel', 'JPN');
      await click(usa.page, '#sus-ex-form button[type="submit"]', 'Expenditure: done');
      await usa.page.waitForFunction(() => /PAC-3 MSE.*USA.*4/.test(document.querySelector('#sus-stocks tr[data-location="usa-patriot-btry"]')?.textContent || ''), null, { timeout: patience(10000) });
      // JPN may not record a US unit's expenditure.
      await jpn.page.waitForSelector('#sus-ex-unit option[value="btry"]', { state: 'attached', timeout: patience(10000) });
      await jpn.page.selectOption('#sus-ex-unit', 'btry');
      await click(jpn.page, '#sus-ex-form button[type="submit"]', 'Expenditure: refused');

      // Open a work order and close it.
      await usa.page.fill('#sus-wo-asset', 'DDG-85');
      await usa.page.fill('#sus-wo-facility', 'JMU Maizuru');
      await usa.page.fill('#sus-wo-type', 'sonar dome repair');
      await usa.page.fill('#sus-wo-rel', 'JPN');
      await click(usa.page, '#sus-wo-form button[type="submit"]', 'Work order: done');
      await usa.page.waitForSelector('#sus-workorders tr[data-asset="DDG-85"][data-status="inducted"] button[data-act="close"]', { timeout: patience(10000) });
      await click(usa.page, '#sus-workorders tr[data-asset="DDG-85"] button[data-act="close"]', 'Close work order: done');
      await usa.page.waitForSelector('#sus-workorders tr[data-asset="DDG-85"][data-status="complete"]', { timeout: patience(10000) });
      await usa.page.screenshot({ path: path.join(ensureArtifacts(), 'sustainment-actions.png') });
      assert.deepEqual(usa.rec.outside, []);
      assert.deepEqual(usa.rec.errors.filter((e) => !/ 40[034] /.test(e)), []);
    } finally {
      await usa.context.close();
      await jpn.context.close();
    }
  });
});
