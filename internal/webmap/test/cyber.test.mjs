// The cyber panel in headless Chromium against a real `kizuna serve`: a
// USA incident released to JPN, naming a unit, shows in JPN's cyber panel
// with its marking, rings the unit on JPN's map and marks its detail
// panel; KOR sees none of it; a USA-only indicator stays with USA.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, Pages, TakClient, cotEvent, until, patience } from './lib.mjs';

const TAXII = 'application/taxii+json;version=2.1';
const KIZUNA_EXT = 'extension-definition--6b1f3a0e-4d2c-4c0b-9a7e-2f5d8c1e9b40';

async function taxii(base, path, init = {}) {
  const res = await fetch(`${base}${path}`, { ...init, headers: { Accept: TAXII, ...(init.body ? { 'Content-Type': TAXII } : {}) } });
  assert.ok(res.ok, `${path}: ${res.status}`);
  return res.json();
}

describe('cyber panel', { timeout: 900000 }, () => {
  let server;
  let browser;
  let pages; // each test's fresh page is made ready while the one before runs
  let usaTak;

  before(async () => {
    server = await new Server({ dataDir: tempDir('kizuna-cyber-'), args: serveArgs() }).start();
    usaTak = await TakClient.connect(server.cot.USA);
    browser = await launchBrowser();
    pages = new Pages(browser);
    // The unit: a USA command post, shared with JPN and KOR.
    await usaTak.send(cotEvent({ uid: 'USA-CP-7', type: 'a-f-G-U-C-I', lat: 35.45, lon: 139.65, callsign: 'CP 7', access: 'UNCLASSIFIED', releasableTo: 'JPN KOR', staleMs: 600000 }));
    // The cyber objects, posted by USA over TAXII.
    const usa = server.http.USA;
    const disc = await taxii(usa, '/taxii2/');
    const root = new URL(disc.default).pathname;
    const cols = (await taxii(usa, `${root}collections/`)).collections;
    const coll = cols.find((c) => c.can_write);
    const marking = {
      type: 'marking-definition', spec_version: '2.1', id: 'marking-definition--0e8e0f2a-6a8b-4c6d-9a8b-1c2d3e4f5a6b', created: '2026-01-01T00:00:00.000Z',
      name: 'UNCLASSIFIED//REL TO JPN, USA',
      extensions: { [KIZUNA_EXT]: { extension_type: 'property-extension', classification: 'UNCLASSIFIED', releasable_to: ['JPN', 'USA'], originator: 'USA' } },
    };
    const incident = {
      type: 'incident', spec_version: '2.1', id: 'incident--5a0b6c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d', created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z',
      name: 'Intrusion attempt on CP 7 network', x_kizuna_affected_uids: ['USA-CP-7'], object_marking_refs: [marking.id],
    };
    const secret = {
      type: 'indicator', spec_version: '2.1', id: 'indicator--6b1c7d2e-3f4a-4b5c-9d6e-8f9a0b1c2d3e', created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z',
      name: 'USA only C2 host', pattern: "[domain-name:value = 'c2.example']", pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z',
    };
    const st = await taxii(usa, `${root}collections/${coll.id}/objects/`, { method: 'POST', body: JSON.stringify({ objects: [marking, incident, secret] }) });
    assert.equal(st.failure_count, 0, JSON.stringify(st.failures));
  });

  after(async () => {
    usaTak?.close();
    await pages?.close();
    await browser?.close();
    await server?.stop();
  });

  it('shows the released incident to JPN, on the panel, the map and the unit', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.JPN));
    try {
      await until('cyber tab', () => page.evaluate(() => !document.getElementById('tab-cyber').hidden), 15000);
      await page.click('#tab-cyber');
      const row = page.locator('.cyber-row[data-id="incident--5a0b6c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"]');
      await row.waitFor({ timeout: patience(15000) });
      assert.match(await row.textContent(), /UNCLASSIFIED \/\/ REL TO USA, JPN/);
      assert.match(await row.textContent(), /Intrusion attempt on CP 7 network/);
      assert.equal(await page.locator('.cyber-row[data-id="indicator--6b1c7d2e-3f4a-4b5c-9d6e-8f9a0b1c2d3e"]').count(), 0, 'USA-only indicator shown to JPN');
      assert.match(await page.textContent('#cyber-banner'), /UNCLASSIFIED/);
      await until('cyber ring on the unit', () => page.evaluate(() => kizuna.cyber.ringCount === 1), 15000);
      await page.evaluate(() => kizuna.select('USA-CP-7'));
      await page.locator('#detail .cyber-status').waitFor({ timeout: patience(10000) });
      assert.match(await page.textContent('#detail .cyber-status'), /Intrusion attempt/);
      assert.deepEqual(rec.outside, []);
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows none of it to KOR', async () => {
    const { page, context, rec } = await pages.open(await pageURL(server.http.KOR));
    try {
      await until('cyber panel polled', () => page.evaluate(() => kizuna.cyber.polls >= 1), 15000);
      await until('the unit on the map', () => page.evaluate(() => kizuna.store.objects.has('USA-CP-7')), 15000);
      await page.click('#tab-cyber');
      assert.equal(await page.locator('.cyber-row').count(), 0);
      assert.equal(await page.evaluate(() => kizuna.cyber.ringCount), 0);
      await page.evaluate(() => kizuna.select('USA-CP-7'));
      await page.locator('#detail').waitFor();
      assert.equal(await page.locator('#detail .cyber-status').count(), 0);
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows USA its own indicator too', async () => {
    const { page, context } = await pages.open(await pageURL(server.http.USA));
    try {
      await page.locator('.cyber-row[data-id="indicator--6b1c7d2e-3f4a-4b5c-9d6e-8f9a0b1c2d3e"]').waitFor({ state: 'attached', timeout: patience(15000) });
      assert.match(await page.textContent('#cyber-banner'), /UNCLASSIFIED \/\/ USA ONLY|SECRET/);
    } finally {
      await context.close();
    }
  });

  it('releases a national USA sighting to JPN with the Release button', async () => {
    const usa = server.http.USA;
    const root = new URL((await taxii(usa, '/taxii2/')).default).pathname;
    const cols = (await taxii(usa, `${root}collections/`)).collections;
    const sc = cols.find((c) => c.can_write && /sightings/.test(c.title));
    const id = 'sighting--7c2d8e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
    const sighting = {
      type: 'sighting', spec_version: '2.1', id, created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z',
      sighting_of_ref: 'attack-pattern--0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a', description: 'VPN brute force on CP 7', x_kizuna_affected_uids: ['USA-CP-7'],
    };
    const st = await taxii(usa, `${root}collections/${sc.id}/objects/`, { method: 'POST', body: JSON.stringify({ objects: [sighting] }) });
    assert.equal(st.failure_count, 0, JSON.stringify(st.failures));
    const jpnSees = async () => {
      const env = await taxii(server.http.JPN, `${root}collections/${sc.id}/objects/`);
      return (env.objects || []).some((o) => o.id === id);
    };
    assert.equal(await jpnSees(), false, 'JPN sees the national sighting');
    const { page, context, rec } = await pages.open(await pageURL(usa));
    try {
      await until('cyber tab', () => page.evaluate(() => !document.getElementById('tab-cyber').hidden), 15000);
      await page.click('#tab-cyber');
      const row = page.locator(`.cyber-row[data-id="${id}"]`);
      await row.waitFor({ timeout: patience(15000) });
      assert.match(await row.textContent(), /USA ONLY|REL TO USA\b/);
      await row.locator('.cyber-release-to').fill('JPN');
      await row.locator('.cyber-release-btn').click();
      await until('released', () => page.evaluate(() => kizuna.cyber.released === 1), 15000);
      await until('the new marking on the row', async () => /REL TO (JPN, USA|USA, JPN)/.test(await page.locator(`.cyber-row[data-id="${id}"]`).textContent()), 15000);
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
    assert.equal(await jpnSees(), true, 'JPN does not see the released sighting');
    const kor = await taxii(server.http.KOR, `${root}collections/${sc.id}/objects/`);
    assert.equal((kor.objects || []).some((o) => o.id === id), false, 'KOR sees the sighting');
  });
});
