// The staff officer's map at theatre scale, in headless Chromium against a
// real `kizuna serve`: labels that never overlap and clusters that count
// what they hide (2,000 objects in one 50 km area), list callsigns that
// keep their room, replay from history, range and bearing, drawings that
// reach TAK clients by their label, exports, keyboard use and banner
// contrast.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, Pages, TakClient, cotEvent, until, ensureArtifacts, patience } from './lib.mjs';

// TakReader is a TAK client over plain TCP that keeps every event it is sent.
class TakReader {
  static async connect(addr) {
    const r = new TakReader();
    const i = addr.lastIndexOf(':');
    r.sock = net.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
    r.buf = '';
    r.events = [];
    await new Promise((resolve, reject) => {
      r.sock.once('connect', resolve);
      r.sock.once('error', reject);
    });
    r.sock.on('error', () => {});
    r.sock.on('data', (b) => {
      r.buf += b.toString('utf8');
      let k;
      while ((k = r.buf.indexOf('</event>')) >= 0) {
        const doc = r.buf.slice(0, k + 8);
        r.buf = r.buf.slice(k + 8);
        const start = doc.lastIndexOf('<event');
        if (start >= 0) r.events.push(doc.slice(start));
      }
    });
    return r;
  }

  find(uid) {
    return this.events.find((e) => e.includes(` uid="${uid}"`));
  }

  close() {
    this.sock.destroy();
  }
}

const attr = (xml, name) => (new RegExp(`\\s${name}="([^"]*)"`).exec(xml) || [])[1];

// overlapping returns the pairs of rectangles that overlap.
function overlapping(boxes) {
  const out = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) out.push([a.uid, b.uid]);
    }
  }
  return out;
}

// WCAG 2 contrast ratio of two CSS rgb() colours.
function contrast(c1, c2) {
  const lum = (c) => {
    const [r, g, b] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(c1), lum(c2)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

describe('staff map', { timeout: 900000 }, () => {
  let server;
  let browser;
  let pages;
  let usa;
  let jpnURL;

  before(async () => {
    // The JPN page's principal holds NOFORN and FOUO, not ORCON.
    const args = [...serveArgs({}, { jpnCaveats: 'NOFORN/FOUO' }), '--cot-tcp', '127.0.0.1:0@KOR:SECRET', '--history-interval', '0'];
    server = await new Server({ dataDir: tempDir('kizuna-web-staff-'), args }).start();
    jpnURL = await pageURL(server.http.JPN);
    usa = await TakClient.connect(server.cot.USA);
    browser = await launchBrowser();
    // Each test's page is made ready while the test before it runs.
    pages = new Pages(browser);
  });

  after(async () => {
    usa?.close();
    await pages?.close();
    await browser?.close();
    await server?.stop();
  });

  it('2,000 objects in 50 km: no two labels overlap, clusters count what they hide', async () => {
    // 2,000 objects in one 50 km square off Tsushima: a tenth hostile,
    // one missile track (flash), the rest friends of USA and JPN.
    const N = 2000;
    const c = [34.2, 129.3];
    let xml = '';
    for (let i = 0; i < N; i++) {
      const lat = c[0] + ((i * 7919) % 1000) / 1000 * 0.45;
      const lon = c[1] + ((i * 104729) % 997) / 997 * 0.54;
      const type = i === 0 ? 'a-h-A-W-M-S-S' : i % 10 === 0 ? 'a-h-G-U-C-A' : i % 3 ? 'a-f-G-U-C-I' : 'a-f-S-C';
      xml += cotEvent({ uid: `dense-${i}`, callsign: `UNIT ${i}`, type, lat, lon, access: i % 2 ? 'SECRET' : 'CONFIDENTIAL', releasableTo: 'JPN', staleMs: 600000 });
    }
    await usa.send(xml);
    const { page, context, rec } = await pages.open(jpnURL);
    try {
      await page.waitForFunction((n) => kizuna.store.objects.size >= n, N, { timeout: patience(30000) });
      const dir = ensureArtifacts();
      let clustersSeen = 0;
      for (const zoom of [9, 10, 11, 12, 13, 15]) {
        const got = await page.evaluate(({ c, zoom }) => {
          kizuna.map.setView([c[0] + 0.225, c[1] + 0.27], zoom, { animate: false });
          kizuna.layer.redraw();
          const L = kizuna.layer;
          // Label boxes computed here, from the text as the canvas measures
          // it in the label font, at the position the layer drew it.
          const g = document.createElement('canvas').getContext('2d');
          g.font = '11px system-ui, sans-serif';
          const labels = L.labels.map((l) => ({ uid: l.uid, x: l.x, y: l.y, w: g.measureText(l.text).width + 4, h: 13, text: l.text }));
          const size = kizuna.map.getSize();
          const onScreen = labels.filter((l) => l.x + l.w > 0 && l.y + l.h > 0 && l.x < size.x && l.y < size.y);
          const inView = [];
          const b = kizuna.map.getBounds().pad(0.1);
          for (const o of kizuna.store.objects.values()) if (b.contains([o.lat, o.lon])) inView.push(o.uid);
          const hidden = [...L.drawn.entries()].filter(([, d]) => d.cluster).map(([u]) => u);
          const shown = [...L.drawn.entries()].filter(([, d]) => !d.cluster).map(([u]) => u);
          return {
            labels: onScreen,
            clusters: L.clusters.map((k) => ({ count: k.count, uids: k.uids, marking: k.marking, level: k.level })),
            inView, hidden, shown,
            flashLabelled: L.labels.some((l) => l.uid === 'dense-0') || !kizuna.map.getBounds().contains([kizuna.store.objects.get('dense-0').lat, kizuna.store.objects.get('dense-0').lon]),
            debug: { zoom: kizuna.map.getZoom(), all: L.labels.length, shown: [...L.drawn.values()].filter((d) => !d.cluster).length, clusters: L.clusters.length, size },
          };
        }, { c, zoom });
        const pairs = overlapping(got.labels);
        assert.deepEqual(pairs, [], `zoom ${zoom}: overlapping labels`);
        if (zoom >= 13) assert.ok(got.labels.length > 0, `zoom ${zoom}: no label at all ${JSON.stringify(got.debug)}`);
        assert.ok(got.flashLabelled, `zoom ${zoom}: the flash track has no label`);
        // Every object in view is drawn exactly once: alone, or in exactly one cluster.
        const inClusters = got.clusters.flatMap((k) => k.uids);
        for (const k of got.clusters) {
          assert.equal(k.count, k.uids.length, `zoom ${zoom}: cluster count`);
          assert.ok(k.count >= 2);
          assert.equal(k.level, k.uids.some((u) => Number(u.split('-')[1]) % 2) ? 'SECRET' : 'CONFIDENTIAL', `zoom ${zoom}: cluster marking is not the highest it hides`);
          assert.match(k.marking, /^[CS]\/\/REL USA JPN$/);
        }
        assert.equal(new Set(inClusters).size, inClusters.length, `zoom ${zoom}: an object in two clusters`);
        assert.deepEqual([...inClusters].sort(), [...got.hidden].sort(), `zoom ${zoom}: clusters do not hold what they hide`);
        assert.deepEqual([...inClusters, ...got.shown].sort(), [...got.inView].sort(), `zoom ${zoom}: objects missing from the map`);
        assert.ok(!inClusters.includes('dense-0'), 'the flash track was hidden in a cluster');
        clustersSeen += got.clusters.length;
        if (zoom >= 14) assert.equal(got.clusters.length, 0, 'clusters at the highest zooms');
        if ([9, 11, 13].includes(zoom)) await page.screenshot({ path: path.join(dir, `staff-dense-z${zoom}.png`) });
      }
      assert.ok(clustersSeen > 0, 'no cluster at any zoom');
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('clusters stay right as their objects move: each count is what it hides, each mark on one of them', async () => {
    // The 2,000 objects of the test above, in view at zoom 11; then most of
    // them move (as tracks at 1 Hz would over a few seconds) with no pan
    // or zoom, so the layer updates its clusters instead of rebuilding.
    const N = 2000;
    const c = [34.2, 129.3];
    const at = (i, step) => {
      const lat = c[0] + ((i * 7919) % 1000) / 1000 * 0.45 - (i % 3 === 1 ? 0.012 * step : 0);
      const lon = c[1] + ((i * 104729) % 997) / 997 * 0.54 + (i % 3 === 0 ? 0.02 * step : 0) + (i % 5 === 2 ? 0.008 * step : 0);
      return [lat, lon];
    };
    const send = async (step) => {
      let xml = '';
      for (let i = 0; i < N; i++) {
        const [lat, lon] = at(i, step);
        const type = i === 0 ? 'a-h-A-W-M-S-S' : i % 10 === 0 ? 'a-h-G-U-C-A' : i % 3 ? 'a-f-G-U-C-I' : 'a-f-S-C';
        xml += cotEvent({ uid: `dense-${i}`, callsign: `UNIT ${i}`, type, lat, lon, access: i % 2 ? 'SECRET' : 'CONFIDENTIAL', releasableTo: 'JPN', staleMs: 600000 });
      }
      await usa.send(xml);
    };
    await send(0);
    const { page, context, rec } = await pages.open(jpnURL);
    try {
      await page.waitForFunction(([n, lon]) => kizuna.store.objects.size >= n && kizuna.store.objects.get('dense-3')?.lon === lon, [N, at(3, 0)[1]], { timeout: patience(30000) });
      const full0 = await page.evaluate(({ c }) => {
        kizuna.map.setView([c[0] + 0.225, c[1] + 0.27], 11, { animate: false });
        kizuna.layer.redraw();
        return kizuna.layer.fullClusters;
      }, { c });
      for (const step of [1, 2, 3]) {
        await send(step);
        await page.waitForFunction(([a, b]) => kizuna.store.objects.get('dense-3')?.lon === a && kizuna.store.objects.get('dense-1999')?.lat === b, [at(3, step)[1], at(1999, step)[0]], { timeout: patience(30000) });
        const got = await page.evaluate(() => {
          const L = kizuna.layer;
          L.redraw();
          const b = kizuna.map.getBounds().pad(0.1);
          const inView = [];
          for (const o of kizuna.store.objects.values()) if (b.contains([o.lat, o.lon])) inView.push(o.uid);
          // Where each object is now, in container pixels.
          const where = (u) => {
            const o = kizuna.store.objects.get(u);
            const p = kizuna.map.latLngToContainerPoint([o.lat, o.lon]);
            return [p.x, p.y];
          };
          return {
            full: L.fullClusters,
            inView,
            hidden: [...L.drawn.entries()].filter(([, d]) => d.cluster).map(([u]) => u),
            shown: [...L.drawn.entries()].filter(([, d]) => !d.cluster).map(([u]) => u),
            clusters: L.clusters.map((k) => ({ x: k.x, y: k.y, count: k.count, uids: k.uids, at: k.uids.map(where) })),
          };
        });
        assert.equal(got.full, full0, 'the clusters were rebuilt: the test would not exercise their update');
        assert.ok(got.clusters.length > 0, `step ${step}: no cluster`);
        const inClusters = got.clusters.flatMap((k) => k.uids);
        for (const k of got.clusters) {
          assert.equal(k.count, k.uids.length, `step ${step}: cluster count`);
          assert.ok(k.count >= 2);
          // The mark is on one of the objects it hides, where that object is
          // now, and every object it hides is within reach of it (48 px, the
          // widest cluster radius, and a pixel of rounding).
          const d = k.at.map(([x, y]) => Math.hypot(x - k.x, y - k.y));
          assert.ok(Math.min(...d) <= 1, `step ${step}: the mark at ${k.x},${k.y} is ${Math.min(...d).toFixed(1)} px from the nearest object it hides`);
          assert.ok(Math.max(...d) <= 50, `step ${step}: an object ${Math.max(...d).toFixed(1)} px from its cluster's mark`);
        }
        assert.equal(new Set(inClusters).size, inClusters.length, `step ${step}: an object in two clusters`);
        assert.deepEqual([...inClusters].sort(), [...got.hidden].sort(), `step ${step}: clusters do not hold what they hide`);
        assert.deepEqual([...inClusters, ...got.shown].sort(), [...got.inView].sort(), `step ${step}: objects missing from the map`);
      }
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('never squeezes a callsign in the list below 8 characters', async () => {
    const names = ['ALPHA-LONG-CALLSIGN-WITH-MANY-PARTS', 'B', 'WWWWWWWWWWWWWWWWWWWW', 'MMMMMMMM', 'Kestrel 1-1 Actual'];
    let xml = '';
    names.forEach((cs, i) => {
      xml += cotEvent({ uid: `cs-${i}`, callsign: cs, type: 'a-f-G-U-C-I', lat: 36, lon: 139 + i * 0.1, access: 'SECRET', releasableTo: 'JPN KOR GBR AUS CAN NZL', staleMs: 900000 });
    });
    await usa.send(xml);
    const { page, context } = await pages.open(jpnURL);
    try {
      await page.fill('#search', 'cs-');
      await until('rows', () => page.evaluate(() => document.querySelectorAll('#list .row').length === 5));
      const rows = await page.evaluate(() => [...document.querySelectorAll('#list .row')].map((r) => {
        const cs = r.querySelector('.cs');
        const g = document.createElement('canvas').getContext('2d');
        g.font = getComputedStyle(cs).font;
        const text = cs.textContent;
        return {
          text,
          clipped: cs.scrollWidth > cs.clientWidth + 1,
          visible: cs.clientWidth,
          need: g.measureText(text.slice(0, 8)).width,
          mk: r.querySelector('.mk').textContent,
          mkTitle: r.querySelector('.mk').title,
        };
      }));
      for (const r of rows) {
        if (r.text.length <= 8) assert.ok(!r.clipped, `${r.text} is cut`);
        else assert.ok(r.visible >= r.need - 0.5, `${r.text}: ${r.visible}px shown, 8 characters need ${r.need}px`);
        assert.match(r.mk, /^\(S\/\/REL (AUS CAN GBR JPN KOR NZL)\)$/);
        assert.match(r.mkTitle, /^SECRET \/\/ REL TO USA, AUS, CAN, GBR, JPN, KOR, NZL$/);
      }
    } finally {
      await context.close();
    }
  });

  it('replays a past position the live view no longer has, and nothing the principal may not see', async () => {
    await usa.send(cotEvent({ uid: 'rp-1', callsign: 'REPLAY ONE', lat: 33.1, lon: 131.1, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
    await usa.send(cotEvent({ uid: 'rp-usa', callsign: 'USA ONLY', lat: 33.2, lon: 131.2, access: 'SECRET', staleMs: 600000 }));
    // The history is written by the store's flush (every 200 ms).
    await until('first history row', async () => {
      const r = await (await fetch(`${server.http.JPN}/api/v1/objects/rp-1/history`)).json().catch(() => ({}));
      return r.points?.length >= 1;
    });
    // The next position in a distinct second: wait for the clock to pass
    // the second in which the first row was seen (was a 1.1 s sleep).
    const seen = Math.floor(Date.now() / 1000);
    await until('the next second', () => Math.floor(Date.now() / 1000) > seen, 2000, 10);
    await usa.send(cotEvent({ uid: 'rp-1', callsign: 'REPLAY ONE', lat: 33.9, lon: 131.9, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
    const { page, context, rec } = await pages.open(jpnURL);
    try {
      await page.waitForFunction(() => kizuna.store.objects.get('rp-1')?.lat === 33.9, null, { timeout: patience(10000) });
      await until('second history row', async () => {
        const r = await (await fetch(`${server.http.JPN}/api/v1/objects/rp-1/history`)).json().catch(() => ({}));
        return r.points?.length >= 2;
      });
      await page.selectOption('#tl-hours', '1');
      const replayReq = page.waitForResponse((r) => r.url().includes('/api/v1/replay'));
      await page.click('#tl-replay');
      const body = await (await replayReq).json();
      await page.waitForFunction(() => kizuna.staff.timeline.active && kizuna.layer.store !== kizuna.store);
      // Nothing the JPN principal may not see, in the answer or on the page.
      assert.ok(body.rows.length > 0);
      for (const [k, , , , , li] of body.rows) {
        const l = body.labels[li];
        const uid = body.tracks[k][0];
        assert.ok(l.originator === 'JPN' || l.releasableTo.includes('JPN'), `replay row ${uid} not releasable to JPN`);
        assert.notEqual(uid, 'rp-usa');
      }
      const first = await page.evaluate(() => {
        const rows = kizuna.staff.timeline.index.byUID.get('rp-1');
        kizuna.staff.timeline.seek(rows[0].t);
        kizuna.layer.redraw();
        const o = kizuna.layer.store.objects.get('rp-1');
        return { lat: o.lat, drawn: kizuna.layer.drawn.has('rp-1'), live: kizuna.store.objects.get('rp-1').lat, usa: kizuna.layer.store.objects.has('rp-usa'), banner: document.getElementById('banner-top').textContent, time: document.getElementById('tl-time').textContent };
      });
      assert.equal(first.lat, 33.1, 'replay does not show the past position');
      assert.equal(first.live, 33.9, 'the live store changed');
      assert.ok(first.drawn);
      assert.equal(first.usa, false);
      assert.match(first.time, /^REPLAY \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
      // The selected object's trail comes from history.
      await page.evaluate(() => kizuna.select('rp-1'));
      await page.evaluate(() => kizuna.staff.timeline.seek(kizuna.staff.timeline.until));
      const trail = await page.evaluate(() => kizuna.layer.history);
      assert.equal(trail.uid, 'rp-1');
      assert.deepEqual(trail.points.slice(-2), [[33.1, 131.1], [33.9, 131.9]]);
      // Play, speed, pause and back to live.
      await page.evaluate(() => kizuna.staff.timeline.seek(kizuna.staff.timeline.since));
      await page.selectOption('#tl-speed', '300');
      const t0 = await page.evaluate(() => kizuna.staff.timeline.t);
      await page.click('#tl-play');
      await page.waitForFunction((t0) => kizuna.staff.timeline.t > t0 + 60000, t0, { timeout: patience(5000) });
      await page.click('#tl-play');
      assert.equal(await page.getAttribute('#tl-play', 'aria-pressed'), 'false');
      const paused = await page.evaluate(() => kizuna.staff.timeline.t);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await page.evaluate(() => kizuna.staff.timeline.t), paused, 'pause did not stop the clock');
      await page.click('#tl-live');
      const live = await page.evaluate(() => ({ same: kizuna.layer.store === kizuna.store, lat: kizuna.layer.store.objects.get('rp-1').lat, active: kizuna.staff.timeline.active }));
      assert.deepEqual(live, { same: true, lat: 33.9, active: false });
      assert.deepEqual(rec.errors, []);
    } finally {
      await context.close();
    }
  });

  it('measures range and bearing between two objects', async () => {
    await usa.send(cotEvent({ uid: 'm-a', callsign: 'FROM', lat: 35, lon: 135, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
    await usa.send(cotEvent({ uid: 'm-b', callsign: 'TO', lat: 36, lon: 135, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
    const { page, context } = await pages.open(jpnURL);
    try {
      await page.waitForFunction(() => kizuna.store.objects.has('m-a') && kizuna.store.objects.has('m-b'));
      await page.evaluate(() => { kizuna.map.setView([35.5, 135], 8, { animate: false }); kizuna.layer.redraw(); });
      const pts = await page.evaluate(() => {
        const r = kizuna.map.getContainer().getBoundingClientRect();
        return ['m-a', 'm-b'].map((u) => { const d = kizuna.layer.drawn.get(u); return { x: r.left + d.x + 2, y: r.top + d.y + 2 }; });
      });
      await page.click('[data-tool=measure]');
      await page.mouse.click(pts[0].x, pts[0].y);
      await page.mouse.click(pts[1].x, pts[1].y);
      // One degree of latitude due north: 111.2 km (60.0 NM), bearing 000.
      assert.equal(await page.textContent('#measure-readout'), 'FROM → TO: 111.2 km (60.0 NM) · 000° T');
      await page.keyboard.press('Escape');
      // A range ring: centre on FROM, radius to TO.
      await page.click('[data-tool=ring]');
      await page.mouse.click(pts[0].x, pts[0].y);
      await page.mouse.click(pts[1].x, pts[1].y);
      assert.match(await page.textContent('#measure-readout'), /^Ring radius 111\.\d\d km \(60\.0 NM\)$/);
      assert.equal(await page.locator('path.kz-ring').count(), 1);
    } finally {
      await context.close();
    }
  });

  it('publishes a drawing that reaches a TAK client of the same nation with its label, and not another nation', async () => {
    const jpnTAK = await TakReader.connect(server.cot.JPN);
    const korTAK = await TakReader.connect(server.cot.KOR);
    const { page, context, rec } = await pages.open(jpnURL);
    try {
      await page.evaluate(() => { kizuna.map.setView([34, 129], 9, { animate: false }); });
      const box = await page.locator('#map').boundingBox();
      await page.click('[data-tool=area]');
      for (const [dx, dy] of [[400, 300], [560, 300], [480, 420]]) await page.mouse.click(box.x + dx, box.y + dy);
      await page.click('#tool-finish');
      // Only classifications up to the page's clearance are offered.
      assert.deepEqual(await page.$$eval('#draw-class option', (os) => os.map((o) => o.value)), ['UNCLASSIFIED', 'CONFIDENTIAL', 'SECRET']);
      await page.fill('#draw-name', 'NAI KESTREL');
      await page.selectOption('#draw-class', 'SECRET');
      await page.fill('#draw-rel', 'USA');
      await page.click('#draw-publish');
      await page.waitForFunction(() => document.getElementById('draw-status').dataset.uid);
      const uid = await page.evaluate(() => document.getElementById('draw-status').dataset.uid);
      assert.match(await page.textContent('#draw-status'), /Published NAI KESTREL \(SECRET\/\/REL TO JPN, USA\)/);
      const ev = await until('the drawing at the JPN TAK client', () => jpnTAK.find(uid), 10000);
      assert.equal(attr(ev, 'type'), 'u-d-f');
      assert.equal(attr(ev, 'access'), 'SECRET');
      assert.equal(attr(ev, 'releasableTo'), 'USA');
      assert.match(ev, /<contact callsign="NAI KESTREL"\/>/);
      assert.match(ev, /<__origin nation="JPN"/);
      assert.equal((ev.match(/<link point=/g) || []).length, 4);
      // The page itself shows it (the stream delivers it back), as an area.
      await page.waitForFunction((u) => kizuna.store.objects.has(u) && kizuna.shapes.byUID.has(u), uid);
      assert.equal(await page.evaluate((u) => kizuna.shapes.byUID.get(u).layer.getLatLngs()[0].length, uid), 3);
      // KOR: an event released to KOR after the drawing arrives; the drawing never does.
      await usa.send(cotEvent({ uid: 'kor-marker', lat: 37, lon: 127, access: 'UNCLASSIFIED', releasableTo: 'KOR' }));
      await until('the marker at the KOR TAK client', () => korTAK.find('kor-marker'), 10000);
      assert.equal(korTAK.find(uid), undefined, 'KOR received a drawing not released to it');
      assert.deepEqual(rec.errors, []);
    } finally {
      jpnTAK.close();
      korTAK.close();
      await context.close();
    }
  });

  it('draws lines, areas and circles as shapes, from TAK clients and from the page; caveats reach only whom they allow', async () => {
    // Shapes from a TAK client: a rectangle (u-d-r) and a circle (u-d-c-c).
    const rect = [[30.1, 125.1], [30.1, 125.3], [30.0, 125.3], [30.0, 125.1]];
    await usa.send(cotEvent({ uid: 'sh-rect', callsign: 'BOX', type: 'u-d-r', lat: 30.1, lon: 125.1, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000, detail: rect.map(([a, b]) => `<link point="${a},${b}"/>`).join('') }));
    await usa.send(cotEvent({ uid: 'sh-circle', callsign: 'RING', type: 'u-d-c-c', lat: 30.05, lon: 125.5, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000, detail: '<shape><ellipse major="4000" minor="4000" angle="0"/></shape>' }));
    const jpnTAK = await TakReader.connect(server.cot.JPN);
    const korTAK = await TakReader.connect(server.cot.KOR);
    const { page, context, rec } = await pages.open(jpnURL);
    try {
      await page.waitForFunction(() => kizuna.shapes.byUID.has('sh-rect') && kizuna.shapes.byUID.has('sh-circle'), null, { timeout: patience(15000) });
      const got = await page.evaluate(() => {
        const r = kizuna.shapes.byUID.get('sh-rect').layer;
        const c = kizuna.shapes.byUID.get('sh-circle').layer;
        return { rect: r.getLatLngs()[0].map((p) => [p.lat, p.lng]), radius: c.getRadius(), centre: [c.getLatLng().lat, c.getLatLng().lng], areas: document.querySelectorAll('path.kz-shape-area').length, circles: document.querySelectorAll('path.kz-shape-circle').length };
      });
      assert.deepEqual(got.rect, rect);
      assert.equal(got.radius, 4000);
      assert.deepEqual(got.centre, [30.05, 125.5]);
      assert.ok(got.areas >= 1 && got.circles >= 1, `paths on the map: ${JSON.stringify(got)}`);

      // A line drawn in the page: NOFORN, though released to KOR, reaches
      // the JPN TAK client only; FOUO released to KOR reaches KOR.
      await page.evaluate(() => { kizuna.map.setView([31, 126], 9, { animate: false }); });
      const box = await page.locator('#map').boundingBox();
      const draw = async (name, caveat) => {
        await page.click('[data-tool=line]');
        for (const [dx, dy] of [[380, 300], [520, 340], [600, 260]]) await page.mouse.click(box.x + dx, box.y + dy);
        await page.click('#tool-finish');
        // The caveats the principal holds are offered, and only those.
        assert.deepEqual(await page.$$eval('input[name=caveat]', (cs) => cs.map((c) => c.value)), ['NOFORN', 'FOUO']);
        await page.fill('#draw-name', name);
        await page.selectOption('#draw-class', 'SECRET');
        await page.fill('#draw-rel', 'KOR');
        await page.check(`#draw-cav-${caveat}`);
        await page.evaluate(() => { delete document.getElementById('draw-status').dataset.uid; });
        await page.click('#draw-publish');
        await page.waitForFunction(() => document.getElementById('draw-status').dataset.uid);
        return page.evaluate(() => document.getElementById('draw-status').dataset.uid);
      };
      const nf = await draw('PL NOFORN', 'NOFORN');
      assert.match(await page.textContent('#draw-status'), /Published PL NOFORN \(SECRET\/\/NOFORN/);
      const fouo = await draw('PL FOUO', 'FOUO');
      assert.match(await page.textContent('#draw-status'), /Published PL FOUO \(SECRET\/\/FOUO/);
      const ev = await until('the NOFORN line at the JPN TAK client', () => jpnTAK.find(nf), 10000);
      assert.equal(attr(ev, 'type'), 'u-d-f');
      assert.equal(attr(ev, 'caveat'), 'NOFORN');
      assert.equal((ev.match(/<link point=/g) || []).length, 3);
      const kev = await until('the FOUO line at the KOR TAK client', () => korTAK.find(fouo), 10000);
      assert.equal(attr(kev, 'caveat'), 'FOUO');
      assert.equal(korTAK.find(nf), undefined, 'KOR received a NOFORN drawing of JPN');
      // The page draws its own line as a line with its three vertices.
      await page.waitForFunction((u) => kizuna.shapes.byUID.has(u), nf);
      assert.equal(await page.evaluate((u) => kizuna.shapes.byUID.get(u).layer.getLatLngs().length, nf), 3);
      // The server refuses a label above the page's clearance (SECRET).
      const refused = await page.evaluate(async () => {
        const res = await fetch('api/v1/drawings', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind: 'line', name: 'TOO HIGH', points: [{ lat: 31, lon: 126 }, { lat: 31.1, lon: 126.1 }], label: { classification: 'TOP SECRET', releasableTo: [], caveats: ['NOFORN'] } }) });
        return res.status;
      });
      assert.equal(refused, 403);
      // ... and a caveat the principal does not hold (ORCON), whatever the
      // page offers: the server checks.
      const orcon = await page.evaluate(async () => {
        const res = await fetch('api/v1/drawings', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind: 'line', name: 'NOT HELD', points: [{ lat: 31, lon: 126 }, { lat: 31.1, lon: 126.1 }], label: { classification: 'SECRET', releasableTo: [], caveats: ['ORCON'] } }) });
        return [res.status, (await res.text()).trim()];
      });
      assert.deepEqual(orcon, [403, 'caveat ORCON not held (you hold FOUO/NOFORN)']);
      // A page whose principal holds no caveat (KOR) is offered none.
      const kor = await pages.open(await pageURL(server.http.KOR));
      try {
        await kor.page.waitForFunction(() => kizuna.stats.whoami);
        await kor.page.click('[data-tool=point]');
        const kbox = await kor.page.locator('#map').boundingBox();
        await kor.page.mouse.click(kbox.x + 400, kbox.y + 300);
        await kor.page.waitForSelector('#draw-name');
        assert.deepEqual(await kor.page.$$eval('input[name=caveat]', (cs) => cs.length), 0);
        assert.equal(await kor.page.textContent('#draw-cav-none'), 'none held');
        assert.deepEqual(await kor.page.evaluate(() => kizuna.stats.whoami.principal.caveats), []);
      } finally {
        await kor.context.close();
      }
      // The browser logs the refusals it was asked to provoke; nothing else.
      assert.deepEqual(rec.errors.filter((e) => !/status of 403 .*\/api\/v1\/drawings/.test(e)), []);
    } finally {
      jpnTAK.close();
      korTAK.close();
      await context.close();
    }
  });

  it('exports the current view as GeoJSON and KML with markings, releasable objects only', async () => {
    await usa.send(cotEvent({ uid: 'ex-jpn', callsign: 'EXPORT JPN', lat: 26.1, lon: 127.6, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
    await usa.send(cotEvent({ uid: 'ex-conf', callsign: 'EXPORT CONF', lat: 26.2, lon: 127.7, access: 'CONFIDENTIAL', releasableTo: 'JPN KOR', staleMs: 600000 }));
    await usa.send(cotEvent({ uid: 'ex-usa', callsign: 'EXPORT USA', lat: 26.15, lon: 127.65, access: 'SECRET', staleMs: 600000 }));
    await usa.send(cotEvent({ uid: 'ex-far', callsign: 'FAR AWAY', lat: 43, lon: 141, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
    const { page, context } = await pages.open(jpnURL);
    try {
      await page.waitForFunction(() => ['ex-jpn', 'ex-conf', 'ex-far'].every((u) => kizuna.store.objects.has(u)));
      await page.evaluate(() => { kizuna.map.setView([26.15, 127.65], 10, { animate: false }); });
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-geojson')]);
      assert.match(dl.suggestedFilename(), /^kizuna-view_SECRET-REL-TO-JPN-USA_\d{8}T\d{6}Z\.geojson$/);
      const gj = JSON.parse(readFileSync(await dl.path(), 'utf8'));
      assert.equal(gj.type, 'FeatureCollection');
      assert.equal(gj.marking, 'SECRET//REL TO JPN, USA');
      assert.deepEqual(gj.features.map((f) => f.id).sort(), ['ex-conf', 'ex-jpn'], 'the view, and only what JPN may see');
      for (const f of gj.features) {
        assert.ok(f.properties.label.originator === 'JPN' || f.properties.label.releasableTo.includes('JPN'));
        assert.match(f.properties.portion, /^\([CS]\/\/REL /);
      }
      // The server refuses to widen the view to what the page may not see.
      const forged = await page.evaluate(async () => (await (await fetch('api/v1/export', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ format: 'geojson', uids: ['ex-usa'] }) })).json()).features.length);
      assert.equal(forged, 0);
      // KML, filtered to CONFIDENTIAL objects' type filter: the list filter applies.
      await page.fill('#search', 'EXPORT CONF');
      const [kdl] = await Promise.all([page.waitForEvent('download'), page.click('#export-kml')]);
      assert.match(kdl.suggestedFilename(), /^kizuna-view_CONFIDENTIAL-REL-TO-JPN-KOR-USA_\d{8}T\d{6}Z\.kml$/);
      const kml = readFileSync(await kdl.path(), 'utf8');
      const parsed = await page.evaluate((text) => {
        const d = new DOMParser().parseFromString(text, 'application/xml');
        if (d.getElementsByTagName('parsererror').length) return { error: true };
        return {
          doc: d.querySelector('Document > name').textContent,
          marks: [...d.getElementsByTagName('Placemark')].map((p) => ({ id: p.getAttribute('id'), name: p.getElementsByTagName('name')[0].textContent })),
        };
      }, kml);
      assert.ok(!parsed.error, 'KML does not parse');
      assert.match(parsed.doc, /^CONFIDENTIAL\/\/REL TO JPN, KOR, USA/);
      assert.deepEqual(parsed.marks, [{ id: 'ex-conf', name: '(C//REL JPN KOR) EXPORT CONF' }]);
    } finally {
      await context.close();
    }
  });

  it('is usable by keyboard with visible focus, and banners have enough contrast', async () => {
    const { page, context } = await pages.open(jpnURL, {}, { ahead: false });
    try {
      await page.fill('#search', 'cs-');
      await until('rows', () => page.evaluate(() => {
        const rows = [...document.querySelectorAll('#list .row')];
        return rows.length === 5 && rows.every((r) => r.dataset.uid.startsWith('cs-'));
      }), 20000);
      await page.focus('#list .row');
      await page.keyboard.press('ArrowDown');
      const second = await page.evaluate(() => ({ uid: document.activeElement.dataset.uid, outline: getComputedStyle(document.activeElement).outlineStyle, rows: kizuna.staff && [...document.querySelectorAll('#list .row')].map((r) => r.dataset.uid) }));
      assert.equal(second.uid, second.rows[1], 'ArrowDown did not move to the next row');
      assert.notEqual(second.outline, 'none', 'focus is not visible');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#detail:not([hidden])');
      assert.equal(await page.evaluate(() => kizuna.layer.selected), second.uid);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#detail', { state: 'hidden' });
      // Tabs follow the arrow keys; tool buttons are reachable and labelled.
      assert.ok(await page.$eval('[data-tool=measure]', (b) => b.tabIndex === 0 && b.title.length > 0));
      // WCAG contrast of every banner level and list badge: at least 4.5:1.
      const colours = await page.evaluate(() => {
        const out = [];
        for (const level of ['UNCLASSIFIED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET', 'UNMARKED']) {
          for (const sel of ['#banner-top']) {
            const e = document.querySelector(sel);
            const keep = e.dataset.level;
            e.dataset.level = level;
            const s = getComputedStyle(e);
            out.push({ what: `${sel} ${level}`, fg: s.color, bg: s.backgroundColor });
            e.dataset.level = keep;
          }
          const b = document.createElement('span');
          b.className = 'mk';
          b.dataset.level = level;
          document.body.append(b);
          const s = getComputedStyle(b);
          out.push({ what: `badge ${level}`, fg: s.color, bg: s.backgroundColor });
          b.remove();
        }
        return out;
      });
      for (const c of colours) {
        const r = contrast(c.fg, c.bg);
        assert.ok(r >= 4.5, `${c.what}: contrast ${r.toFixed(2)} below 4.5 (${c.fg} on ${c.bg})`);
      }
    } finally {
      await context.close();
    }
  });
});
