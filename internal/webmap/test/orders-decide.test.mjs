// The units and orders panel's decision and report controls, against a
// real node with the demonstration order of battle: a support request to
// JSDF forces is routed through the ACM/BOCC to JJOC, whose principal alone
// sees the decision buttons and approves, partly approves or denies it; a
// report request is answered with a SITREP or a structured readiness
// report from the panel.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, Pages, repo, patience } from './lib.mjs';

async function ordersTab(page) {
  await page.bringToFront();
  await page.waitForSelector('#tab-orders:not([hidden])', { timeout: patience(30000) });
  await page.click('#tab-orders');
  await page.waitForFunction(() => document.querySelectorAll('#order-form select[name=as] option').length > 0, null, { timeout: patience(30000) });
}

async function issue(page, as, recipient, type, text) {
  await page.selectOption('#order-form select[name=as]', as);
  await page.waitForFunction((r) => [...document.querySelectorAll('#order-form select[name=recipient] option')].some((o) => o.value === r), recipient);
  await page.selectOption('#order-form select[name=recipient]', recipient);
  await page.selectOption('#order-form select[name=type]', type);
  await page.fill('#order-form textarea[name=text]', text);
  // The status still names the previous order: clear it first.
  await page.evaluate(() => { document.getElementById('order-status').textContent = ''; });
  await page.click('#order-form button[type=submit]');
  await page.waitForFunction(() => /^issued /.test(document.getElementById('order-status').textContent), null, { timeout: patience(30000) });
  return (await page.textContent('#order-status')).replace('issued ', '').trim();
}

const post = (page, p, body) =>
  page.evaluate(async ([p, body]) => {
    const r = await fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  }, [p, body]);

describe('deciding support requests and answering report requests', { timeout: 900000 }, () => {
  let server;
  let browser;
  let pages; // each test's fresh page is made ready while the one before runs

  before(async () => {
    const orbat = path.join(repo, 'internal/demo/orbat.json');
    server = await new Server({ dataDir: tempDir('kizuna-web-decide-'), args: [...serveArgs(), '--orbat', orbat] }).start();
    browser = await launchBrowser();
    pages = new Pages(browser);
  });

  after(async () => {
    await pages?.close();
    await browser?.close();
    await server?.stop();
  });

  it('JJOC approves or denies a US request; the requester cannot decide', async () => {
    const us = await pages.open(await pageURL(server.http.USA));
    const jp = await pages.open(await pageURL(server.http.JPN));
    try {
      await ordersTab(us.page);
      const id = await issue(us.page, 'usfj', 'adc', 'SUPPORT_REQUEST', 'Request Patriot coverage of Kadena');
      const usCard = `#orders .order[data-order="${id}"]`;
      await us.page.waitForSelector(usCard, { timeout: patience(30000) });
      assert.match(await us.page.textContent(usCard), /usfj → jjoc/);
      assert.match(await us.page.textContent(usCard), /via acm for adc/);
      // The requester holds no position in JJOC: no decision controls,
      // and the server refuses a decision made anyway.
      assert.equal(await us.page.locator(`${usCard} button[data-decide]`).count(), 0);
      const refused = await post(us.page, `api/v1/orders/${id}/decide`, { as: 'jjoc', outcome: 'DENIED', reason: 'x' });
      assert.equal(refused.status, 403);
      // Acting as itself, the requester is not the headquarters that decides.
      const self = await post(us.page, `api/v1/orders/${id}/decide`, { as: 'usfj', outcome: 'DENIED', reason: 'x' });
      assert.equal(self.status, 422);
      assert.equal(self.body.rule, 'decided-by-other-nation-hq');

      // JJOC's watch officer approves it, with Japan's own order.
      await ordersTab(jp.page);
      const jpCard = `#orders .order[data-order="${id}"]`;
      await jp.page.waitForSelector(`${jpCard} button[data-decide="APPROVED"]`, { timeout: patience(30000) });
      // A routed request is answered with a decision, not WILCO.
      assert.equal(await jp.page.locator(`${jpCard} button[data-respond="WILCO"]`).count(), 0);
      await jp.page.fill(`${jpCard} input[name=reason]`, 'Kadena covered by 1st ADA Group');
      await jp.page.fill(`${jpCard} input[name=orderText]`, 'Deploy two PAC-3 fire units to cover Kadena');
      await jp.page.click(`${jpCard} button[data-decide="APPROVED"]`);
      await jp.page.waitForSelector(`${jpCard}[data-state="WILCO"]`, { timeout: patience(30000) });
      assert.match(await jp.page.textContent('#order-status'), /APPROVED \(order O\w+\)/);
      const national = (await jp.page.textContent('#order-status')).match(/order (O\w+)/)[1];
      await jp.page.waitForSelector(`#orders .order[data-order="${national}"]`, { timeout: patience(30000) });
      assert.match(await jp.page.textContent(`#orders .order[data-order="${national}"]`), new RegExp(`answers request ${id}`));

      // The requester sees the outcome, not Japan's order.
      await us.page.bringToFront();
      await us.page.waitForSelector(`${usCard}[data-state="WILCO"]`, { timeout: patience(30000) });
      assert.match(await us.page.textContent(usCard), /APPROVED/);
      assert.equal(await us.page.locator(`#orders .order[data-order="${national}"]`).count(), 0);
      assert.equal(await us.page.locator(`${usCard} [data-answer]`).count(), 0);

      // Partly approved, the order released to the requester.
      await us.page.bringToFront();
      const id2 = await issue(us.page, 'usfj', 'escort-force', 'SUPPORT_REQUEST', 'Escort TF 76');
      const card2 = `#orders .order[data-order="${id2}"]`;
      await jp.page.bringToFront();
      await jp.page.waitForSelector(`${card2} button[data-decide="PARTLY_APPROVED"]`, { timeout: patience(30000) });
      await jp.page.fill(`${card2} input[name=reason]`, 'one escort division only');
      await jp.page.check(`${card2} input[name=release]`);
      await jp.page.click(`${card2} button[data-decide="PARTLY_APPROVED"]`);
      await us.page.bringToFront();
      await us.page.waitForSelector(`${card2}[data-state="WILCO"] [data-answer]`, { timeout: patience(30000) });
      assert.match(await us.page.textContent(card2), /PARTLY_APPROVED/);
      const n2 = await us.page.getAttribute(`${card2} [data-answer]`, 'data-answer');
      await us.page.waitForSelector(`#orders .order[data-order="${n2}"]`, { timeout: patience(30000) });

      // Denied: a denial needs a reason.
      await us.page.bringToFront();
      const id3 = await issue(us.page, 'usfj', 'adc', 'SUPPORT_REQUEST', 'Cover Sasebo');
      const card3 = `#orders .order[data-order="${id3}"]`;
      await jp.page.bringToFront();
      await jp.page.waitForSelector(`${card3} button[data-decide="DENIED"]`, { timeout: patience(30000) });
      await jp.page.click(`${card3} button[data-decide="DENIED"]`);
      await jp.page.waitForFunction(() => /denial needs a reason/.test(document.getElementById('order-status').textContent), null, { timeout: patience(30000) });
      assert.equal(await jp.page.getAttribute('#order-status', 'class'), 'error');
      await jp.page.fill(`${card3} input[name=reason]`, 'fire units committed');
      await jp.page.click(`${card3} button[data-decide="DENIED"]`);
      await us.page.bringToFront();
      await us.page.waitForSelector(`${card3}[data-state="CANTCO"]`, { timeout: patience(30000) });
      assert.match(await us.page.textContent(card3), /DENIED/);
      for (const r of [us.rec, jp.rec]) {
        assert.deepEqual(r.outside, []);
        // The refusals above are the only console errors.
        assert.deepEqual(r.errors.filter((e) => !/status of 4(00|03|04|22) /.test(e)), []);
      }
    } finally {
      await us.context.close();
      await jp.context.close();
    }
  });

  it('answers a report request with a SITREP and a structured readiness report', async () => {
    const { page, context } = await pages.open(await pageURL(server.http.USA));
    const jp = await pages.open(await pageURL(server.http.JPN));
    try {
      await ordersTab(page);
      const id = await issue(page, 'indopacom', 'usfj', 'REPORT_REQUEST', 'Report readiness of forces');
      const card = `#orders .order[data-order="${id}"]`;
      await page.waitForSelector(`${card} button[data-report="READINESS"]`, { timeout: patience(30000) });
      // Only the recipient reports: the issuer's JPN ally cannot see it.
      const hidden = await post(jp.page, `api/v1/orders/${id}/report`, { as: 'jjoc', kind: 'SITREP', text: 'x' });
      assert.equal(hidden.status, 404);
      await page.selectOption(`${card} select[name=personnel]`, '1');
      await page.selectOption(`${card} select[name=equipment]`, '2');
      await page.selectOption(`${card} select[name=supply]`, '1');
      await page.selectOption(`${card} select[name=training]`, '3');
      await page.fill(`${card} input[name=reportText]`, 'two squadrons in phase maintenance');
      await page.click(`${card} button[data-report="READINESS"]`);
      await page.waitForSelector(`${card}[data-state="COMPLETE"] [data-readiness="C3"]`, { timeout: patience(30000) });
      const levels = await page.$$eval(`${card} [data-readiness] [data-level]`, (xs) => xs.map((x) => x.textContent));
      assert.deepEqual(levels, ['P1', 'R2', 'S1', 'T3']);
      assert.match(await page.textContent(`${card} [data-readiness]`), /as reported/);

      const id2 = await issue(page, 'indopacom', 'usfj', 'REPORT_REQUEST', 'SITREP on Okinawa');
      const card2 = `#orders .order[data-order="${id2}"]`;
      await page.waitForSelector(`${card2} button[data-report="SITREP"]`, { timeout: patience(30000) });
      await page.fill(`${card2} input[name=reportText]`, 'All bases at FPCON Bravo; no incidents');
      await page.click(`${card2} button[data-report="SITREP"]`);
      await page.waitForSelector(`${card2}[data-state="COMPLETE"]`, { timeout: patience(30000) });
      assert.match(await page.textContent(card2), /SITREP: All bases at FPCON Bravo/);
      const res = await page.evaluate(async (id) => (await fetch(`api/v1/orders/${id}`)).json(), id);
      assert.deepEqual(res.reports[0].readiness, { c: 3, personnel: 1, equipment: 2, supply: 1, training: 3, source: 'reported' });
    } finally {
      await context.close();
      await jp.context.close();
    }
  });
});
