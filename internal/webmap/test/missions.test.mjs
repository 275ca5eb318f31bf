// The missions panel in headless Chromium against a real `kizuna serve`:
// a JPN mission shared with KOR holding a JPN-only object. JPN opens it,
// sees both of its items, files the selected object and subscribes; KOR
// sees the mission with the shared object only, and never the JPN-only
// one.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, Pages, TakClient, cotEvent, until, patience } from './lib.mjs';

async function api(base, method, path, body) {
  const res = await fetch(`${base}${path}`, { method, ...(body ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}) });
  assert.ok(res.ok, `${method} ${path}: ${res.status}`);
  return res.json();
}

describe('missions panel', { timeout: 900000 }, () => {
  let server;
  let browser;
  let pages; // each test's fresh page is made ready while the one before runs
  let jpnTak;

  before(async () => {
    server = await new Server({ dataDir: tempDir('kizuna-missions-'), args: serveArgs() }).start();
    jpnTak = await TakClient.connect(server.cot.JPN);
    browser = await launchBrowser();
    pages = new Pages(browser);
    await jpnTak.send(cotEvent({ uid: 'M-JPN-SECRET', type: 'a-h-G', lat: 35.4, lon: 139.6, callsign: 'HIDDEN POST', access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
    await jpnTak.send(cotEvent({ uid: 'M-SHARED', lat: 35.5, lon: 139.7, callsign: 'SHARED CP', access: 'SECRET', releasableTo: 'KOR', staleMs: 600000 }));
    const jpn = server.http.JPN;
    await api(jpn, 'PUT', '/Marti/api/missions/web-op?creatorUid=jpn-web&access=SECRET&releasableTo=KOR');
    await until('the JPN-only object is filed', async () => {
      const res = await fetch(`${jpn}/Marti/api/missions/web-op/contents`, { method: 'PUT', body: JSON.stringify({ uids: ['M-JPN-SECRET'] }), headers: { 'Content-Type': 'application/json' } });
      return res.ok;
    });
  });

  after(async () => {
    jpnTak?.close();
    await pages?.close();
    await browser?.close();
    await server?.stop();
  });

  it('lets JPN open the mission, file the selected object and subscribe', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.JPN));
    try {
      await until('missions tab', () => page.evaluate(() => !document.getElementById('tab-missions').hidden), 15000);
      await page.click('#tab-missions');
      await page.click('.mission-row[data-name="web-op"] a');
      await page.locator('.mission-item[data-uid="M-JPN-SECRET"]').waitFor({ timeout: patience(10000) });
      await until('the shared object on the map', () => page.evaluate(() => kizuna.store.objects.has('M-SHARED')), 15000);
      await page.evaluate(() => kizuna.select('M-SHARED'));
      await page.click('#mission-add-selected');
      await page.locator('.mission-item[data-uid="M-SHARED"]').waitFor({ timeout: patience(10000) });
      assert.equal(await page.locator('.mission-change').count(), 3);
      await page.click('#mission-subscribe');
      await until('subscribed', async () => (await api(server.http.JPN, 'GET', '/Marti/api/missions/web-op/subscriptions')).data.some((u) => u.startsWith('kizuna-web-')));
      await until('rings on the map', () => page.evaluate(() => kizuna.missions.ringCount === 2), 10000);
      assert.deepEqual(rec.outside, []);
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows KOR the shared object and never the JPN-only one', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.KOR));
    try {
      await until('missions tab', () => page.evaluate(() => !document.getElementById('tab-missions').hidden), 15000);
      await page.click('#tab-missions');
      await page.click('.mission-row[data-name="web-op"] a');
      await page.locator('.mission-item[data-uid="M-SHARED"]').waitFor({ timeout: patience(10000) });
      assert.equal(await page.locator('.mission-item').count(), 1);
      assert.equal(await page.locator('.mission-change').count(), 2);
      const text = await page.textContent('#pane-missions');
      assert.ok(!text.includes('HIDDEN POST') && !text.includes('M-JPN-SECRET'), text);
      assert.match(await page.textContent('.mission-row[data-name="web-op"]'), /1 items/);
      // What the operator types into the new-mission form survives the
      // panel's polls, also once the focus has left the field.
      await page.fill('#mission-new-name', 'kor-patrol');
      await page.fill('#mission-new-rel', 'USA');
      await page.evaluate(() => document.activeElement.blur());
      const polls = await page.evaluate(() => kizuna.missions.polls);
      await until('two more polls', () => page.evaluate((n) => kizuna.missions.polls >= n + 2, polls), 15000);
      assert.equal(await page.inputValue('#mission-new-name'), 'kor-patrol');
      assert.equal(await page.inputValue('#mission-new-rel'), 'USA');
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });
});
