// The web map in real headless Chromium against a real `kizuna serve`:
// offline loading, live symbols, label filtering, the banner, stale fading,
// the detail panel and missile warnings.
//
// Each suite has a 15-minute limit against hangs; the first one also builds
// kizuna, which on a cold build cache takes minutes.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, openPage, Pages, TakClient, cotEvent, until, ensureArtifacts, withinGoal, patience } from './lib.mjs';

describe('web map', { timeout: 900000 }, () => {
  let server;
  let browser;
  let pages;
  let usa; // TAK publisher acting as USA:SECRET
  let jpn; // TAK publisher acting as JPN:SECRET
  let jpnURL;
  let usaURL;

  before(async () => {
    server = await new Server({ dataDir: tempDir('kizuna-web-'), args: serveArgs() }).start();
    jpnURL = await pageURL(server.http.JPN);
    usaURL = await pageURL(server.http.USA);
    usa = await TakClient.connect(server.cot.USA);
    jpn = await TakClient.connect(server.cot.JPN);
    browser = await launchBrowser();
    pages = new Pages(browser);
  });

  after(async () => {
    usa?.close();
    jpn?.close();
    await pages?.close();
    await browser?.close();
    await server?.stop();
  });

  it('loads with no request leaving loopback and no console error', async () => {
    const { page, context, rec } = await pages.open(jpnURL);
    try {
      // The base map is drawn from the embedded Natural Earth data.
      await until('base map', () => page.evaluate(() => document.querySelectorAll('.leaflet-overlay-pane canvas').length >= 2));
      // Zoom to a city to load the detailed coastlines too.
      await page.evaluate(() => { kizuna.map.setView([35.68, 139.76], 11, { animate: false }); });
      await page.waitForFunction(() => kizuna.basemap.detail, null, { timeout: patience(20000) });
      assert.ok(rec.requests.some((u) => u.endsWith('countries-10m.json')));
      assert.deepEqual(rec.outside, [], 'requests left loopback');
      assert.deepEqual(rec.errors, [], 'console errors');
      const who = await page.textContent('#whoami');
      assert.match(who, /JPN · SECRET/);
      assert.equal(await page.textContent('#conn'), 'live');
    } finally {
      await context.close();
    }
  });

  it('works under a strict Content-Security-Policy', async () => {
    // What a deployment can send with the map: only this origin, no inline
    // script, no eval; images may be data: URLs (symbols) and blobs.
    const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
    const { page, context, rec } = await openPage(browser, jpnURL, { csp });
    try {
      await usa.send(cotEvent({ uid: 'csp-1', type: 'a-f-S-C', lat: 34, lon: 129, access: 'SECRET', releasableTo: 'JPN' }));
      await page.waitForFunction(() => kizuna.layer.drawn.has('csp-1') && kizuna.basemap.coarse, null, { timeout: patience(5000) });
      await page.evaluate(() => kizuna.select('csp-1'));
      await page.waitForSelector('#detail:not([hidden])');
      await page.fill('#search', 'csp');
      await until('list row', () => page.evaluate(() => {
        const rows = document.querySelectorAll('#list .row');
        return rows.length === 1 && rows[0].dataset.uid === 'csp-1';
      }));
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows N objects published over TAK as symbols within 1 s, and moves them', async (t) => {
    // No page starts beside this one while it is timed.
    const { page, context, rec } = await pages.open(jpnURL, {}, { ahead: false });
    try {
      const N = 100;
      const uids = [];
      let xml = '';
      for (let i = 0; i < N; i++) {
        const uid = `n-${i}`;
        uids.push(uid);
        xml += cotEvent({ uid, type: i % 3 ? 'a-f-G-U-C-I' : 'a-h-A-M-F', lat: 30 + (i % 10) * 0.8, lon: 124 + Math.floor(i / 10) * 1.2, access: 'SECRET', releasableTo: 'JPN' });
      }
      const t0 = Date.now();
      await usa.send(xml);
      await page.waitForFunction((want) => want.every((u) => kizuna.layer.drawn.has(u)), uids, { timeout: patience(5000), polling: 'raf' });
      withinGoal(t, `${N} symbols drawn`, Date.now() - t0, 1000);

      // Each is really drawn: its pixel on the symbol canvas is painted, at
      // the map position of its coordinates.
      const check = await page.evaluate((uids) => {
        const c = document.querySelector('canvas.kz-objects');
        const g = c.getContext('2d');
        const dpr = window.devicePixelRatio || 1;
        const out = [];
        for (const uid of uids) {
          const o = kizuna.store.objects.get(uid);
          const d = kizuna.layer.drawn.get(uid);
          const p = kizuna.map.latLngToContainerPoint([o.lat, o.lon]);
          const px = g.getImageData(Math.round(d.x * dpr), Math.round(d.y * dpr), 1, 1).data;
          out.push({ uid, sidc: o.sidc, painted: px[3] > 0, dx: Math.abs(p.x - d.x), dy: Math.abs(p.y - d.y) });
        }
        return out;
      }, uids.slice(0, 20));
      for (const c of check) {
        assert.ok(c.painted, `${c.uid} not painted`);
        assert.ok(c.dx < 1 && c.dy < 1, `${c.uid} drawn away from its position`);
        assert.match(c.sidc, /^S[FH][GA]P/);
      }
      // The list shows them with their markings.
      await page.fill('#search', 'n-42');
      await until('list row', () => page.evaluate(() => {
        const rows = document.querySelectorAll('#list .row');
        return rows.length === 1 && rows[0].dataset.uid === 'n-42';
      }));
      // The row shows the portion marking; the full marking is its title.
      assert.match(await page.textContent('#list .row'), /n-42.*\(S\/\/REL JPN\)/);
      assert.equal(await page.getAttribute('#list .row .mk', 'title'), 'SECRET // REL TO USA, JPN');

      // Moving one moves its symbol.
      const before = await page.evaluate(() => ({ ...kizuna.layer.drawn.get('n-42') }));
      const t1 = Date.now();
      await usa.send(cotEvent({ uid: 'n-42', type: 'a-f-G-U-C-I', lat: 36.5, lon: 133.5, access: 'SECRET', releasableTo: 'JPN', course: 45, speed: 12 }));
      await page.waitForFunction(() => kizuna.store.objects.get('n-42')?.lat === 36.5 && !kizuna.store.objects.get('n-42').dirty, null, { timeout: patience(5000), polling: 'raf' });
      withinGoal(t, 'a move drawn', Date.now() - t1, 1000);
      pages.ahead();
      const after = await page.evaluate(() => {
        const d = kizuna.layer.drawn.get('n-42');
        const p = kizuna.map.latLngToContainerPoint([36.5, 133.5]);
        return { x: d.x, y: d.y, px: p.x, py: p.y, trail: kizuna.store.objects.get('n-42').trail.length };
      });
      assert.ok(Math.hypot(after.x - before.x, after.y - before.y) > 20, 'symbol did not move');
      assert.ok(Math.abs(after.x - after.px) < 1 && Math.abs(after.y - after.py) < 1, 'symbol not at its new position');
      assert.equal(after.trail, 2, 'trail keeps the previous position');
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('draws a CoT function 2525 lacks with its parent symbol', async () => {
    const { page, context } = await pages.open(jpnURL);
    try {
      await usa.send(cotEvent({ uid: 'aew-1', callsign: 'AEW', type: 'a-f-A-M-F-W', lat: 36, lon: 137, access: 'SECRET', releasableTo: 'JPN' }));
      await page.waitForFunction(() => kizuna.layer.drawn.has('aew-1'), null, { timeout: patience(5000) });
      const got = await page.evaluate(async () => {
        const { symbolFor } = await import('./js/symbols.js');
        return { sidc: kizuna.store.objects.get('aew-1').sidc, drawn: symbolFor(kizuna.store.objects.get('aew-1').sidc).code, known: symbolFor('SHAPMF---------').code, none: symbolFor('').code };
      });
      assert.deepEqual(got, { sidc: 'SFAPMFW--------', drawn: 'SFAPMF---------', known: 'SHAPMF---------', none: '' });
    } finally {
      await context.close();
    }
  });

  it('never shows a JPN page a USA-only object', async () => {
    const jp = await pages.open(jpnURL);
    const us = await pages.open(usaURL);
    try {
      // Record every uid the JPN page ever holds, from the first frame on.
      await jp.page.evaluate(() => {
        globalThis.seen = new Set(kizuna.store.objects.keys());
        kizuna.store.onChange(() => { for (const k of kizuna.store.objects.keys()) seen.add(k); });
      });
      await usa.send(
        cotEvent({ uid: 'usa-only-1', type: 'a-f-A-M-F', lat: 35.1, lon: 136.1, access: 'SECRET', releasableTo: 'USA' }) +
          cotEvent({ uid: 'usa-only-2', type: 'a-f-S-C', lat: 34.1, lon: 135.1, access: 'CONFIDENTIAL' }) + // no rel: USA only
          cotEvent({ uid: 'usa-rel-jpn', type: 'a-f-S-C', lat: 33.1, lon: 134.1, access: 'SECRET', releasableTo: 'JPN USA' }),
      );
      // Positive control: the USA page gets all three, the JPN page the shared one.
      await us.page.waitForFunction(() => ['usa-only-1', 'usa-only-2', 'usa-rel-jpn'].every((u) => kizuna.layer.drawn.has(u)), null, { timeout: patience(5000) });
      await jp.page.waitForFunction(() => kizuna.layer.drawn.has('usa-rel-jpn'), null, { timeout: patience(5000) });
      // A later update of the USA-only object must not leak either.
      await usa.send(cotEvent({ uid: 'usa-only-1', type: 'a-f-A-M-F', lat: 35.2, lon: 136.2, access: 'SECRET', releasableTo: 'USA' }));
      await us.page.waitForFunction(() => kizuna.store.objects.get('usa-only-1')?.lat === 35.2, null, { timeout: patience(5000) });
      // And a reload (snapshot) must not either.
      await jp.page.reload();
      await jp.page.waitForFunction(() => globalThis.kizuna?.stats.snapshots > 0 && kizuna.layer.drawn.has('usa-rel-jpn'), null, { timeout: patience(10000) });
      const leaked = await jp.page.evaluate(() => [...kizuna.store.objects.keys()].filter((u) => u.startsWith('usa-only')));
      assert.deepEqual(leaked, []);
      const listText = await jp.page.textContent('#list');
      assert.ok(!listText.includes('usa-only'), 'JPN list shows a USA-only object');
      assert.equal(await us.page.evaluate(() => kizuna.store.objects.has('usa-only-2')), true);
      assert.deepEqual(jp.rec.errors, []);
    } finally {
      await jp.context.close();
      await us.context.close();
    }
  });

  it('shows the highest marking in both banners, in its colour', async () => {
    const { page, context } = await pages.open(usaURL);
    try {
      const banner = () => page.evaluate(() => {
        const t = document.getElementById('banner-top');
        const b = document.getElementById('banner-bottom');
        return { top: t.textContent, bottom: b.textContent, level: t.dataset.level, colour: getComputedStyle(t).backgroundColor, bottomColour: getComputedStyle(b).backgroundColor };
      });
      // Only objects of this test remain after the filter: use a fresh
      // uid space and clear older ones by deleting them would need ownership,
      // so start a page that filters nothing and compare with the store.
      await jpn.send(
        cotEvent({ uid: 'mk-u', type: 'a-n-S-C', lat: 31, lon: 130, access: 'UNCLASSIFIED', releasableTo: 'USA KOR' }) +
          cotEvent({ uid: 'mk-c', type: 'a-f-G-U-C-I', lat: 31.5, lon: 130.5, access: 'CONFIDENTIAL', releasableTo: 'USA' }),
      );
      await page.waitForFunction(() => kizuna.store.objects.has('mk-u') && kizuna.store.objects.has('mk-c'), null, { timeout: patience(5000) });
      await usa.send(cotEvent({ uid: 'mk-s', type: 'a-h-G-U-C-A', lat: 32, lon: 131, access: 'SECRET', releasableTo: 'JPN' }));
      await page.waitForFunction(() => document.getElementById('banner-top').dataset.level === 'SECRET', null, { timeout: patience(5000) });
      const b = await banner();
      const expected = await page.evaluate(async () => {
        const { combine } = await import('./js/marking.js');
        return combine([...kizuna.store.objects.values()].map((o) => o.label)).text;
      });
      assert.equal(b.top, expected);
      assert.equal(b.bottom, expected);
      assert.match(b.top, /^SECRET \/\/ /);
      assert.equal(b.colour, 'rgb(200, 16, 46)', 'SECRET banner is red');
      assert.equal(b.bottomColour, b.colour);

      // A page that holds only unclassified data is green.
      const clean = await pages.open(usaURL);
      await clean.page.evaluate(() => kizuna.store.replace([]));
      await clean.page.waitForFunction(() => document.getElementById('banner-top').textContent === 'UNCLASSIFIED', null, { timeout: patience(5000) });
      assert.equal(await clean.page.evaluate(() => getComputedStyle(document.getElementById('banner-top')).backgroundColor), 'rgb(0, 122, 51)');
      await clean.context.close();

      // The detail panel shows the object's label and originator.
      await page.evaluate(() => kizuna.select('mk-c'));
      await page.waitForSelector('#detail:not([hidden]) #detail-marking');
      assert.equal(await page.textContent('#detail-marking'), 'CONFIDENTIAL // REL TO USA, JPN');
      assert.equal(await page.textContent('#detail [data-field="Originator"]'), 'JPN');
      assert.equal(await page.textContent('#detail [data-field="Releasable to"]'), 'USA');
    } finally {
      await context.close();
    }
  });

  it('selects a symbol by clicking it and shows its detail', async () => {
    const { page, context } = await pages.open(jpnURL);
    try {
      await usa.send(cotEvent({ uid: 'click-me', callsign: 'RAIDER 7', type: 'a-f-A-M-H', lat: 26.3, lon: 127.8, access: 'SECRET', releasableTo: 'JPN', course: 90, speed: 60 }));
      await page.waitForFunction(() => kizuna.layer.drawn.has('click-me'), null, { timeout: patience(5000) });
      await page.evaluate(() => { kizuna.map.setView([26.3, 127.8], 9, { animate: false }); });
      await page.waitForFunction(() => kizuna.layer.drawn.has('click-me'), null, { timeout: patience(5000) });
      const box = await page.locator('#map').boundingBox();
      const d = await page.evaluate(() => kizuna.layer.drawn.get('click-me'));
      await page.mouse.click(box.x + d.x, box.y + d.y);
      await page.waitForSelector('#detail:not([hidden])');
      assert.match(await page.textContent('#detail h2'), /RAIDER 7/);
      assert.equal(await page.textContent('#detail [data-field="Originator"]'), 'USA');
      assert.equal(await page.textContent('#detail [data-field="Course"]'), '90°');

      // Closing it, then choosing the object from the list after panning
      // away, selects it again and brings it into view.
      await page.click('#detail .close');
      await page.waitForSelector('#detail', { state: 'hidden' });
      await page.evaluate(() => { kizuna.map.setView([40, 140], 9, { animate: false }); });
      await page.fill('#search', 'raider');
      await page.click('#list .row[data-uid="click-me"]');
      await page.waitForSelector('#detail:not([hidden])');
      assert.match(await page.textContent('#detail h2'), /RAIDER 7/);
      assert.ok(await page.evaluate(() => kizuna.map.getBounds().contains([26.3, 127.8])), 'map did not bring the object into view');
    } finally {
      await context.close();
    }
  });

  it('fades stale objects, then removes them', async () => {
    const { page, context } = await openPage(browser, `${jpnURL}?fade=2`);
    try {
      await usa.send(cotEvent({ uid: 'short-lived', type: 'a-u-S', lat: 30, lon: 129, access: 'SECRET', releasableTo: 'JPN', staleMs: 1500 }));
      await page.waitForFunction(() => kizuna.layer.drawn.get('short-lived')?.alpha === 1, null, { timeout: patience(5000) });
      await page.waitForFunction(() => { const d = kizuna.layer.drawn.get('short-lived'); return d && d.alpha < 1; }, null, { timeout: patience(5000) });
      await page.waitForFunction(() => !kizuna.store.objects.has('short-lived') && !kizuna.layer.drawn.has('short-lived'), null, { timeout: patience(8000) });
    } finally {
      await context.close();
    }
  });

  it('raises a missile warning with launch point and track', async () => {
    const { page, context, rec } = await pages.open(jpnURL);
    try {
      const t = Date.now();
      for (let i = 0; i < 4; i++) {
        await usa.send(cotEvent({ uid: 'msl-1', callsign: 'TRACK 4501', type: 'a-h-A-W-M-S-S', lat: 39.0 - i * 0.5, lon: 125.5 + i * 1.0, hae: 80000, access: 'SECRET', releasableTo: 'JPN KOR', time: t + i, course: 120, speed: 2000 }));
        await page.waitForFunction((n) => (kizuna.store.objects.get('msl-1')?.trail.length || 0) >= n, i + 1, { timeout: patience(5000) });
      }
      await page.waitForSelector('#alerts .alert[data-uid="msl-1"]', { timeout: patience(5000) });
      assert.match(await page.textContent('#alerts .alert'), /MISSILE WARNING · TRACK 4501 · launch 39\.00, 125\.50/);
      await page.waitForFunction(() => document.querySelectorAll('path.kz-missile-track').length === 1 && document.querySelectorAll('path.kz-launch').length === 1, null, { timeout: patience(5000) });
      // Filter: missile tracks.
      await page.selectOption('#f-dim', 'M');
      await until('missile filter', () => page.evaluate(() => [...document.querySelectorAll('#list .row')].map((r) => r.dataset.uid).join() === 'msl-1'));
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('draws the predicted impact area from missile data', async () => {
    const { page, context } = await pages.open(jpnURL, {}, { ahead: false });
    try {
      // Inject a missile track as the stream would deliver it, with the
      // missile-warning fields the page understands.
      await page.evaluate(() => {
        const now = Date.now();
        kizuna.store.upsert({
          uid: 'msl-data', type: 'a-h-A-W-M-S-S', sidc: 'SHAPWMSS-------', callsign: 'TRACK 77', lat: 38, lon: 131,
          time: new Date(now).toISOString(), stale: new Date(now + 60000).toISOString(),
          label: { classification: 'SECRET', releasableTo: ['JPN'], originator: 'USA' },
          missile: { launch: { lat: 39.5, lon: 125.0 }, impact: { lat: 39.0, lon: 135.0, radius: 30000, time: new Date(now + 300000).toISOString() }, track: [{ lat: 39.5, lon: 125.0 }, { lat: 39.0, lon: 128.0 }, { lat: 38, lon: 131 }] },
        });
      });
      await page.waitForSelector('#alerts .alert[data-uid="msl-data"]');
      assert.match(await page.textContent('#alerts .alert[data-uid="msl-data"]'), /launch 39\.50, 125\.00 · predicted impact 39\.00, 135\.00/);
      await page.waitForFunction(() => document.querySelectorAll('path.kz-impact').length === 1 && document.querySelectorAll('path.kz-missile-predicted').length === 1, null, { timeout: patience(5000) });
      await page.click('#alerts .alert[data-uid="msl-data"] button:text("Show")');
      await page.waitForSelector('#detail [data-field="Predicted impact"]');
      assert.equal(await page.textContent('#detail [data-field="Impact radius"]'), '30.0 km');
      await page.screenshot({ path: path.join(ensureArtifacts(), 'web-missile.png') });
    } finally {
      await context.close();
    }
  });

  it('shows side by side what JPN sees that KOR does not', async () => {
    // A small allied picture: shared with both, shared with JPN only, and
    // each nation's own.
    const t = Date.now();
    const events = [
      { uid: 'demo-usfj', callsign: 'USFJ HQ', type: 'a-f-G-U-C', lat: 35.74, lon: 139.35, access: 'SECRET', releasableTo: 'JPN KOR' },
      { uid: 'demo-7flt', callsign: '7TH FLEET', type: 'a-f-S-C-L-C-V', lat: 35.29, lon: 139.67, access: 'SECRET', releasableTo: 'JPN KOR' },
      { uid: 'demo-ew-kadena', callsign: 'KADENA EW', type: 'a-f-A-M-F-Q', lat: 26.35, lon: 127.77, access: 'SECRET', releasableTo: 'JPN', course: 330, speed: 220 },
      { uid: 'demo-bandit', callsign: 'BANDIT 1', type: 'a-h-A-M-F', lat: 31.5, lon: 124.8, access: 'SECRET', releasableTo: 'JPN', course: 80, speed: 250 },
      { uid: 'demo-sub', callsign: 'CONTACT 12', type: 'a-s-U', lat: 33.2, lon: 128.9, access: 'SECRET', releasableTo: 'KOR JPN' },
      { uid: 'demo-usa-only', callsign: 'SPECIAL', type: 'a-f-F', lat: 37.0, lon: 127.0, access: 'SECRET', releasableTo: 'USA' },
    ];
    await usa.send(events.map((e) => cotEvent({ ...e, time: t, staleMs: 600000 })).join(''));
    await jpn.send(cotEvent({ uid: 'demo-jjoc', callsign: 'JJOC', type: 'a-f-G-U-C', lat: 35.69, lon: 139.72, access: 'SECRET', time: t, staleMs: 600000 }));
    const korURL = await pageURL(server.http.KOR);
    const jp = await openPage(browser, jpnURL, { viewport: { width: 960, height: 720 } });
    const kr = await openPage(browser, korURL, { viewport: { width: 960, height: 720 } });
    try {
      const shown = async (p) => {
        await p.page.waitForFunction(() => kizuna.store.objects.has('demo-usfj'), null, { timeout: patience(5000) });
        return p.page.evaluate(() => [...kizuna.store.objects.keys()].filter((u) => u.startsWith('demo-')).sort());
      };
      const [jn, kn] = [await shown(jp), await shown(kr)];
      assert.deepEqual(jn, ['demo-7flt', 'demo-bandit', 'demo-ew-kadena', 'demo-jjoc', 'demo-sub', 'demo-usfj']);
      assert.deepEqual(kn, ['demo-7flt', 'demo-sub', 'demo-usfj']);
      const shot = async (p, name) => {
        await p.page.evaluate(() => { kizuna.map.setView([32.5, 131], 5, { animate: false }); });
        await p.page.waitForTimeout(400);
        const png = await p.page.screenshot({ path: path.join(ensureArtifacts(), name) });
        return png.toString('base64');
      };
      const a = await shot(jp, 'web-map-jpn.png');
      const b = await shot(kr, 'web-map-kor.png');
      const ctx = await browser.newContext({ viewport: { width: 1920, height: 720 } });
      const p = await ctx.newPage();
      await p.setContent(`<html><body style="margin:0;display:flex;background:#000"><img src="data:image/png;base64,${a}" style="width:50%"><img src="data:image/png;base64,${b}" style="width:50%"></body></html>`);
      await p.screenshot({ path: path.join(ensureArtifacts(), 'web-map-jpn-kor.png') });
      await ctx.close();
    } finally {
      await jp.context.close();
      await kr.context.close();
    }
  });
});
