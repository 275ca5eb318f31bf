// The units and orders panel against the chain of command of a real node
// loaded with the demonstration order of battle: see the unit tree, issue an
// order, watch its state advance, acknowledge it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, Pages, repo, patience } from './lib.mjs';

describe('units and orders panel', { timeout: 900000 }, () => {
  let server;
  let browser;
  let pages; // each test's fresh page is made ready while the one before runs

  before(async () => {
    const orbat = path.join(repo, 'internal/demo/orbat.json');
    server = await new Server({ dataDir: tempDir('kizuna-web-orders-'), args: [...serveArgs(), '--orbat', orbat] }).start();
    browser = await launchBrowser();
    pages = new Pages(browser);
  });

  after(async () => {
    await pages?.close();
    await browser?.close();
    await server?.stop();
  });

  it('issues an order, shows its state advance and acknowledges it', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.USA));
    try {
      await page.waitForSelector('#tab-orders:not([hidden])', { timeout: patience(10000) });
      await page.click('#tab-orders');
      // The unit tree nests US Forces Japan under Indo-Pacific Command.
      await page.waitForSelector('#pane-orders li[data-unit="indopacom"] li[data-unit="usfj"]', { timeout: patience(10000) });
      // The issuing units are those where this principal holds a position.
      await page.waitForFunction(() => [...document.querySelectorAll('#order-form select[name=as] option')].some((o) => o.value === 'indopacom'));
      await page.selectOption('#order-form select[name=as]', 'indopacom');
      await page.selectOption('#order-form select[name=recipient]', 'usfj');
      await page.selectOption('#order-form select[name=type]', 'REPORT_REQUEST');
      await page.fill('#order-form textarea[name=text]', 'Report readiness of forces by 1800Z');
      await page.click('#order-form button[type=submit]');
      await page.waitForFunction(() => /^issued /.test(document.getElementById('order-status').textContent), null, { timeout: patience(10000) });
      const id = (await page.textContent('#order-status')).replace('issued ', '').trim();
      assert.match(id, /\w+/);

      const card = `#orders .order[data-order="${id}"]`;
      await page.waitForSelector(card, { timeout: patience(10000) });
      const first = await page.getAttribute(card, 'data-state');
      assert.ok(['ISSUED', 'DELIVERED'].includes(first), `new order in state ${first}`);
      assert.match(await page.textContent(card), /indopacom → usfj/);
      assert.match(await page.textContent(card), /Report readiness/);
      // The order's serial and date-time group.
      assert.match(await page.textContent(card), /INDOPACOM-\d{4} \d{6}Z[A-Z]{3}\d{2}/);
      // The order is on screen, so the banner covers its marking.
      await page.waitForFunction(() => document.getElementById('banner-top').dataset.level === 'SECRET', null, { timeout: patience(10000) });
      assert.equal(await page.textContent('#banner-top'), 'SECRET // USA ONLY');

      // This principal also holds a position in the recipient: acknowledge.
      await page.click(`${card} button[data-respond="ACKNOWLEDGED"]`);
      await page.waitForSelector(`${card}[data-state="ACKNOWLEDGED"]`, { timeout: patience(10000) });
      await page.click(`${card} button[data-respond="WILCO"]`);
      await page.waitForSelector(`${card}[data-state="WILCO"]`, { timeout: patience(10000) });

      // The API agrees.
      const res = await page.evaluate(async (id) => (await fetch(`api/v1/orders/${id}`)).json(), id);
      assert.equal(res.state, 'WILCO');
      assert.deepEqual(res.history.map((h) => h.to).filter((s) => s !== 'DELIVERED'), ['ISSUED', 'ACKNOWLEDGED', 'WILCO']);
      assert.deepEqual(rec.errors, []);
      assert.deepEqual(rec.outside, []);
    } finally {
      await context.close();
    }
  });

  it('shows a refusal when the issuer lacks authority', async () => {
    const { page, context } = await pages.open(await pageURL(server.http.USA));
    try {
      await page.waitForSelector('#tab-orders:not([hidden])', { timeout: patience(10000) });
      await page.click('#tab-orders');
      await page.waitForFunction(() => [...document.querySelectorAll('#order-form select[name=as] option')].some((o) => o.value === 'usfj'));
      // US Forces Japan has no operational control of JSDF Joint Operations Command.
      await page.selectOption('#order-form select[name=as]', 'usfj');
      await page.waitForFunction(() => [...document.querySelectorAll('#order-form select[name=recipient] option')].some((o) => o.value === 'jjoc'));
      await page.selectOption('#order-form select[name=recipient]', 'jjoc');
      await page.selectOption('#order-form select[name=type]', 'TASK');
      await page.fill('#order-form textarea[name=text]', 'Take over the defence of Okinawa');
      await page.click('#order-form button[type=submit]');
      await page.waitForFunction(() => /^refused: /.test(document.getElementById('order-status').textContent), null, { timeout: patience(10000) });
      assert.equal(await page.getAttribute('#order-status', 'class'), 'error');
    } finally {
      await context.close();
    }
  });
});
