// The Sustain panel against a real node: stocks, readiness, transfers,
// work orders and the forecast chart, seen by USA, JPN and KOR web
// listeners. US stock is labelled releasable to JPN only: the KOR page
// must show none of it, not a row, a total or a chart point.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, openPage, ensureArtifacts } from './lib.mjs';

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

  before(async () => {
    server = await new Server({ dataDir: tempDir('kizuna-web-sustain-'), args: serveArgs() }).start();
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
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows US stock, readiness, transfers, work orders and the forecast chart to USA', async () => {
    const { page, context, rec } = await openPage(browser, await pageURL(server.http.USA));
    try {
      await page.waitForSelector('#tab-sustain:not([hidden])', { timeout: 15000 });
      await page.click('#tab-sustain');
      await page.waitForSelector('#sus-stocks tr[data-location="usa-patriot-btry"]', { timeout: 10000 });
      assert.match(await page.textContent('#sus-stocks tr[data-location="usa-patriot-btry"]'), /PAC-3 MSE.*USA.*6/);
      await page.waitForSelector('#sus-readiness tr[data-unit="btry"][data-colour="RED"]', { timeout: 10000 });
      assert.match(await page.textContent('#sus-readiness tr[data-unit="btry"]'), /PAC-3 MSE 6\/16/);
      await page.waitForSelector('#sus-transfers tr[data-state="requested"]');
      await page.waitForSelector('#sus-workorders tr[data-asset="DDG-65"][data-status="inducted"]');
      // The chart: an SVG line with points, the safety line, the breach.
      await page.waitForSelector('#sus-forecast svg.sus-chart path.series', { timeout: 10000 });
      const d = await page.getAttribute('#sus-forecast svg.sus-chart path.series', 'd');
      assert.ok(d.split('L').length >= 15, `chart path ${d}`);
      await page.waitForSelector('#sus-forecast svg.sus-chart line.safety', { state: 'attached' });
      assert.match(await page.textContent('#sus-breach'), /Below safety level 8/);
      // The panel's labels count for the banner.
      await page.waitForFunction(() => document.getElementById('banner-top').dataset.level === 'SECRET', null, { timeout: 10000 });
      await page.screenshot({ path: path.join(ensureArtifacts(), 'sustainment-usa.png') });
      assert.deepEqual(rec.outside, []);
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows JPN the US battery stock released to it', async () => {
    const { page, context, rec } = await openPage(browser, await pageURL(server.http.JPN));
    try {
      await page.waitForSelector('#tab-sustain:not([hidden])', { timeout: 15000 });
      await page.click('#tab-sustain');
      await page.waitForSelector('#sus-stocks tr[data-location="usa-patriot-btry"]', { timeout: 10000 });
      await page.waitForSelector('#sus-stocks tr[data-location="jpn-komaki"]');
      await page.waitForSelector('#sus-forecast svg.sus-chart path.series', { timeout: 10000 });
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows KOR nothing of US or JPN stock: no row, no readiness, no chart', async () => {
    const { page, context, rec } = await openPage(browser, await pageURL(server.http.KOR));
    try {
      await page.waitForSelector('#tab-sustain:not([hidden])', { timeout: 15000 });
      await page.click('#tab-sustain');
      await page.waitForFunction(() => /No stock to forecast/.test(document.getElementById('sus-forecast').textContent), null, { timeout: 10000 });
      const text = await page.textContent('#pane-sustain');
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
});
