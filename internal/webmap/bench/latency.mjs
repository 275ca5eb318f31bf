// Web map latency benchmark: OBJECTS live objects, each updating at 1 Hz,
// published over TAK to a real `kizuna serve` and watched by one web map in
// headless Chromium.
//
// Latency is measured from the update's event time, which the publisher sets
// to the moment it writes the event to the server (so it includes the
// loopback hop to the server), to the map frame that drew it; the page
// records that for every update it applies (kizuna.stats.latencies).
// Responsiveness is measured by clicking a symbol every CLICK_MS: click_ms
// times from sending the click to the first frame after the detail panel
// shows it (round trip through the browser's automation protocol included);
// click_event_timing_ms is the browser's own Event Timing duration of the
// click (input to next paint).
//
// Usage (from the repository root, after `cd internal/webmap/test && npm ci`):
//   node internal/webmap/bench/latency.mjs [--objects 5000] [--seconds 30] [--warmup 5]
// KIZUNA_BIN may name a kizuna binary built beforehand.

import { parseArgs } from 'node:util';
import os from 'node:os';
import { Server, tempDir, pageURL, launchBrowser, TakClient, cotEvent } from '../test/lib.mjs';

const { values: opt } = parseArgs({
  options: {
    objects: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    conns: { type: 'string', default: '10' },
    click: { type: 'string', default: '500' },
    profile: { type: 'boolean', default: false },
    screenshot: { type: 'string', default: '' },
  },
});
const OBJECTS = Number(opt.objects);
const SECONDS = Number(opt.seconds);
const WARMUP = Number(opt.warmup);
const CONNS = Number(opt.conns);
const CLICK_MS = Number(opt.click);
const TICK_MS = 20;

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const server = await new Server({
  dataDir: tempDir('kizuna-web-bench-'),
  args: ['--nation', 'USA', '--cot-tcp', '127.0.0.1:0@USA:SECRET', '--http', '127.0.0.1:0@JPN:SECRET'],
}).start();
const browser = await launchBrowser();
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(await pageURL(server.http.JPN));
  await page.waitForFunction(() => globalThis.kizuna?.stats.snapshots > 0);
  // The whole exercise area in view: every object is drawn every frame.
  await page.evaluate(() => { kizuna.map.setView([34, 130], 5, { animate: false }); });

  const conns = [];
  for (let i = 0; i < CONNS; i++) conns.push(await TakClient.connect(server.cot.USA));

  // Objects spread over the Sea of Japan and East China Sea, each moving on
  // a small circle; object k is sent in tick k mod (1000/TICK_MS).
  const types = ['a-f-A-M-F', 'a-h-A-M-F', 'a-f-S-C', 'a-u-S', 'a-f-G-U-C-I', 'a-n-S-C-M'];
  let next = 0;
  let sent = 0;
  let backlog = 0; // largest publisher write queue seen, bytes
  const start = Date.now();
  const sendTick = () => {
    const now = Date.now();
    const batches = new Map();
    // Catch up when the timer fires late, so the rate holds at OBJECTS/s.
    const due = Math.min(OBJECTS, Math.floor(((now - start) * OBJECTS) / 1000) - sent);
    for (let n = 0; n < due; n++) {
      const k = next;
      next = (next + 1) % OBJECTS;
      const phase = ((now - start) / 60000) * 2 * Math.PI + k;
      const xml = cotEvent({
        uid: `bench-${k}`, callsign: `T${k}`, type: types[k % types.length],
        lat: 28 + (k % 70) * 0.16 + 0.05 * Math.sin(phase), lon: 122 + Math.floor(k / 70) * 0.2 + 0.05 * Math.cos(phase),
        course: ((phase * 180) / Math.PI) % 360, speed: 100, access: 'SECRET', releasableTo: 'JPN', time: now, staleMs: 30000,
      });
      const c = conns[k % CONNS];
      backlog = Math.max(backlog, c.sock.writableLength);
      batches.set(c, (batches.get(c) || '') + xml);
      sent++;
    }
    for (const [c, xml] of batches) c.sock.write(xml);
  };
  const timer = setInterval(sendTick, TICK_MS);

  // Warm up: every object known to the page.
  await page.waitForFunction((n) => kizuna.store.objects.size >= n, OBJECTS, { timeout: 60000 });
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  await page.evaluate(() => { kizuna.stats.latencies.length = 0; kizuna.stats.arrivals.length = 0; kizuna.stats.applied = 0; });
  const sentAtStart = sent;
  const measureStart = Date.now();
  let cdp = null;
  if (opt.profile) {
    cdp = await context.newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.start');
  }

  // The browser's own account of each click (Event Timing: from the input
  // to the next paint after its handlers ran). Only clicks of 16 ms or more
  // are reported; the others count as faster than that.
  await page.evaluate(() => {
    globalThis.benchEvents = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.name === 'click') benchEvents.push(e.duration);
    }).observe({ type: 'event', durationThreshold: 16, buffered: false });
  });

  // Measure, clicking a symbol now and then.
  const clicks = [];
  const box = await page.locator('#map').boundingBox();
  const end = Date.now() + SECONDS * 1000;
  let c = 0;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, CLICK_MS));
    // A symbol drawn on its own: an object inside a cluster mark is in
    // drawn too (hidden), and a click there opens the cluster instead.
    const target = await page.evaluate((i) => {
      const all = [...kizuna.layer.drawn.entries()].filter(([, d]) => !d.hidden && !d.cluster);
      if (!all.length) return null;
      const [uid, d] = all[(i * 7919) % all.length];
      return { uid, x: d.x, y: d.y };
    }, c++);
    if (!target) continue;
    await page.evaluate(() => { globalThis.benchClick = null; });
    const t0 = Date.now();
    await page.mouse.click(box.x + target.x, box.y + target.y);
    const shownAt = await page.evaluate(() => new Promise((resolve) => {
      const check = () => (document.querySelector('#detail:not([hidden]) h2') ? requestAnimationFrame(() => resolve(Date.now())) : setTimeout(check, 1));
      check();
    }));
    clicks.push(shownAt - t0);
  }
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot });
  clearInterval(timer);
  if (cdp) {
    // Where the page's main thread spent its time: self time per function.
    const { profile } = await cdp.send('Profiler.stop');
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    profile.samples.forEach((id, i) => {
      const f = byId.get(id).callFrame;
      const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
      self.set(k, (self.get(k) || 0) + (profile.timeDeltas[i] || 0));
    });
    for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.error(`${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  }
  const sentDuring = sent - sentAtStart;
  const measured = (Date.now() - measureStart) / 1000;
  const slowClicks = (await page.evaluate(() => benchEvents.slice())).sort((a, b) => a - b);
  const eventTiming = clicks.map((_, i) => (i < clicks.length - slowClicks.length ? 0 : slowClicks[i - (clicks.length - slowClicks.length)]));
  const stats = await page.evaluate(() => ({ latencies: kizuna.stats.latencies.slice(), arrivals: kizuna.stats.arrivals.slice(), applied: kizuna.stats.applied, frames: kizuna.stats.frames, size: kizuna.store.objects.size, state: kizuna.stats.state, frameCost: kizuna.stats.frameCost, framesRate: kizuna.stats.frames }));
  const lat = stats.latencies.sort((a, b) => a - b);
  const arr = stats.arrivals.sort((a, b) => a - b);
  clicks.sort((a, b) => a - b);
  const fmt = (v) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
  console.log(
    `objects=${OBJECTS} rate=${(sentDuring / measured).toFixed(0)}/s seconds=${measured.toFixed(0)} applied=${stats.applied} ` +
      `latency_ms p50=${fmt(quantile(lat, 0.5))} p95=${fmt(quantile(lat, 0.95))} p99=${fmt(quantile(lat, 0.99))} max=${fmt(lat.at(-1))} ` +
      `arrival_ms p50=${fmt(quantile(arr, 0.5))} p95=${fmt(quantile(arr, 0.95))} ` +
      `click_ms n=${clicks.length} p50=${fmt(quantile(clicks, 0.5))} p95=${fmt(quantile(clicks, 0.95))} max=${fmt(clicks.at(-1))} ` +
      `click_event_timing_ms p50=${eventTiming.length && quantile(eventTiming, 0.5) === 0 ? '<16' : fmt(quantile(eventTiming, 0.5))} p95=${eventTiming.length && quantile(eventTiming, 0.95) === 0 ? '<16' : fmt(quantile(eventTiming, 0.95))} ` +
      `frame_cost_ms=${fmt(stats.frameCost)} publisher_backlog_bytes=${backlog} stream=${stats.state} cpus=${os.cpus().length}`,
  );
  if (errors.length) {
    console.error('page errors:', errors);
    exitCode = 1;
  }
  for (const cn of conns) cn.close();
} finally {
  await browser.close();
  await server.stop();
}
process.exit(exitCode);
