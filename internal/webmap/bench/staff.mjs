// Staff map benchmark: frame time with clustering and label collision
// avoidance on, and the load time of an hour's replay.
//
// 1. Frames: OBJECTS live objects, each updating at 1 Hz over TAK, watched
//    by one web map in headless Chromium. At each zoom level of the demo
//    (the theatre, the Korea Strait, Tsushima) every map redraw is timed
//    (ObjectLayer.redraw: projection, clustering, symbols, label placement)
//    for SECONDS; p50/p95/max are printed per zoom.
// 2. Replay: REPORTS reports per object spread over the past hour (event
//    times back-dated, one every 3600/REPORTS s) are written to the node's
//    history first; then the page's "Replay, last 1 h" is timed from the
//    click to the picture shown (fetch, JSON parse, index, first frame).
//
// Usage (from the repository root, after `cd internal/webmap/test && npm ci`):
//   node internal/webmap/bench/staff.mjs [--objects 5000] [--seconds 15] [--reports 60]
// KIZUNA_BIN may name a kizuna binary built beforehand.

import { parseArgs } from 'node:util';
import os from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { Server, tempDir, pageURL, launchBrowser, TakClient, cotEvent, until } from '../test/lib.mjs';

const { values: opt } = parseArgs({
  options: {
    objects: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '15' },
    reports: { type: 'string', default: '60' },
    conns: { type: 'string', default: '10' },
    // tak: live updates over TAK through the server (end to end); page:
    // generated in the page and applied to its store (the page's own frame
    // cost alone, when the machine cannot carry both).
    feed: { type: 'string', default: 'tak' },
    // profile: a CDP CPU profile of the page per zoom level; prints the
    // sampled time inside the timed redraw, in the garbage collector and
    // busy in all, per frame (less sensitive to a loaded machine's queue
    // than wall-clock frame times, though still sampled in wall time).
    profile: { type: 'boolean', default: false },
    // loop: per zoom, LOOP frames driven back to back (feed page only):
    // each applies a twentieth of a second's updates (5,000 objects at
    // 1 Hz: 250), redraws and reads one pixel back (so the canvas is
    // rasterised in the frame). Prints the frame times and the CPU time
    // (utime+stime) of the browser's renderer processes per frame: CPU
    // time is what a loaded machine does not inflate.
    loop: { type: 'string', default: '0' },
  },
});
const OBJECTS = Number(opt.objects);
const LOOP = Number(opt.loop);
const SECONDS = Number(opt.seconds);
const REPORTS = Number(opt.reports);
const CONNS = Number(opt.conns);
const TICK_MS = 20;
// The demo's region: the theatre (its start view), the Korea Strait, and Tsushima.
const ZOOMS = [
  ['theatre', [33.5, 131], 5],
  ['strait', [34.2, 129.5], 8],
  ['tsushima', [34.4, 129.35], 11],
];

const t00 = Date.now();
const progress = (what) => console.error(`[${((Date.now() - t00) / 1000).toFixed(0)} s] ${what}`);
const q = (s, p) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN);
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');

// Positions: a third of the objects gathered around the Korea Strait and
// Tsushima (where the demo's units pile up), the rest over the theatre.
function position(k, phase) {
  if (k % 3 === 0) {
    return [34.0 + ((k * 7919) % 1000) / 1000 * 0.8 + 0.01 * Math.sin(phase), 129.0 + ((k * 104729) % 997) / 997 * 1.0 + 0.01 * Math.cos(phase)];
  }
  return [28 + (k % 70) * 0.16 + 0.05 * Math.sin(phase), 122 + Math.floor(k / 70) * 0.2 + 0.05 * Math.cos(phase)];
}
// rendererCPU returns the CPU time (ms, utime+stime) so far of the
// renderer processes of the Chromium this script started (descendants of
// this process; other Chromiums on the machine are not counted).
function rendererCPU() {
  const tick = 100; // USER_HZ on Linux
  const stat = new Map(); // pid -> [ppid, fields]
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      stat.set(Number(pid), f);
    } catch {
      // gone meanwhile
    }
  }
  const ours = (pid) => {
    for (let p = pid, i = 0; p > 1 && i < 20; i++) {
      if (p === process.pid) return true;
      p = Number(stat.get(p)?.[1] ?? 0);
    }
    return false;
  };
  let ms = 0;
  for (const [pid, f] of stat) {
    if (!ours(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
    } catch {
      continue;
    }
    ms += ((Number(f[11]) + Number(f[12])) * 1000) / tick;
  }
  return ms;
}

// profileTotals sums a CDP CPU profile: sampled ms inside the timed redraw
// (the wrapper below, named timed, and all it calls), in the garbage
// collector, and busy (every sample but idle).
function profileTotals(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const inRedraw = new Set();
  const mark = (n) => {
    inRedraw.add(n.id);
    for (const c of n.children || []) mark(byId.get(c));
  };
  for (const n of profile.nodes) if (n.callFrame.functionName === 'timed' && !inRedraw.has(n.id)) mark(n);
  let redraw = 0;
  let gc = 0;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const n = byId.get(profile.samples[i]);
    const fn = n.callFrame.functionName;
    if (fn === '(idle)') continue;
    busy += dt;
    if (fn === '(garbage collector)') gc += dt;
    if (inRedraw.has(n.id)) redraw += dt;
  }
  return { redraw, gc, busy };
}

const types = ['a-f-A-M-F', 'a-h-A-M-F', 'a-f-S-C', 'a-u-S', 'a-f-G-U-C-I', 'a-n-S-C-M', 'a-h-G-U-C-A'];

const server = await new Server({
  dataDir: tempDir('kizuna-web-staff-bench-'),
  args: ['--nation', 'USA', '--cot-tcp', '127.0.0.1:0@USA:SECRET', '--http', '127.0.0.1:0@JPN:SECRET', '--history-interval', '0', '--event-rate', '0'],
}).start();
const browser = await launchBrowser();
let exitCode = 0;
try {
  // History first: REPORTS per object over the past hour, back-dated, on
  // one connection (the sender gets nothing back, so nothing fans out;
  // with several, each would receive the others' events and a slow one
  // would be dropped).
  const h0 = Date.now();
  let historyS = 0;
  let replayMs = NaN;
  let bytes = 0;
  let rep = { rows: 0, uids: 0, shown: 0 };
  if (REPORTS > 0) {
  const hist = await TakClient.connect(server.cot.USA);
  const hourAgo = h0 - 3600e3;
  for (let r = 0; r < REPORTS; r++) {
    const t = hourAgo + (r * 3600e3) / REPORTS;
    let chunk = '';
    for (let k = 0; k < OBJECTS; k++) {
      const [lat, lon] = position(k, r / 10 + k);
      chunk += cotEvent({ uid: `bench-${k}`, callsign: `T${k}`, type: types[k % types.length], lat, lon, access: k % 2 ? 'SECRET' : 'CONFIDENTIAL', releasableTo: 'JPN', time: t, staleMs: h0 - t + 120000 });
      if (k % 100 === 99) {
        await hist.send(chunk);
        chunk = '';
      }
    }
    if (chunk) await hist.send(chunk);
  }
  // Wait until the store has written the history: the last object's
  // history stops growing. (Under a burst like this one the store may
  // thin it; the rows it kept are what a replay loads.)
  let lastN = -1;
  await until('history written', async () => {
    const res = await fetch(`${server.http.JPN}/api/v1/objects/bench-${OBJECTS - 1}/history?limit=10000`);
    if (!res.ok) return false;
    const n = (await res.json()).points.length;
    const done = n === lastN && n > 0;
    lastN = n;
    return done;
  }, 600000, 3000);
  historyS = (Date.now() - h0) / 1000;
  progress(`history written: ${OBJECTS * REPORTS} reports`);
  hist.close();
  }
  const conns = [];
  for (let i = 0; i < CONNS; i++) conns.push(await TakClient.connect(server.cot.USA));
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(await pageURL(server.http.JPN));
  await page.waitForFunction(() => globalThis.kizuna?.stats.snapshots > 0);

  // Replay of the last hour: click to picture.
  if (REPORTS > 0) {
  await page.selectOption('#tl-hours', '1');
  const replayT0 = Date.now();
  const resP = page.waitForResponse((r) => r.url().includes('/api/v1/replay'), { timeout: 180000 });
  await page.click('#tl-replay');
  const res = await resP;
  bytes = (await res.body()).length;
  await page.waitForFunction(() => kizuna.staff.timeline.active && kizuna.layer.store.objects.size > 0, null, { timeout: 180000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  replayMs = Date.now() - replayT0;
  rep = await page.evaluate(() => ({ rows: kizuna.staff.timeline.index.rows, uids: kizuna.staff.timeline.index.byUID.size, shown: kizuna.layer.store.objects.size }));
  progress(`replay loaded in ${replayMs} ms`);
  await page.click('#tl-live');
  }

  // Live: every object at 1 Hz.
  let sent = 0;
  let timer = null;
  if (opt.feed === 'page') {
    await page.evaluate(({ n, tick }) => {
      const sidcs = ['SFAPMF---------', 'SHAPMF---------', 'SFSPC----------', 'SUSP-----------', 'SFGPUCI--------', 'SNSPCM---------', 'SHGPUCA--------'];
      const types = ['a-f-A-M-F', 'a-h-A-M-F', 'a-f-S-C', 'a-u-S', 'a-f-G-U-C-I', 'a-n-S-C-M', 'a-h-G-U-C-A'];
      const pos = (k, ph) => (k % 3 === 0
        ? [34.0 + ((k * 7919) % 1000) / 1000 * 0.8 + 0.01 * Math.sin(ph), 129.0 + ((k * 104729) % 997) / 997 * 1.0 + 0.01 * Math.cos(ph)]
        : [28 + (k % 70) * 0.16 + 0.05 * Math.sin(ph), 122 + Math.floor(k / 70) * 0.2 + 0.05 * Math.cos(ph)]);
      const make = (k, now) => {
        const [lat, lon] = pos(k, ((now % 60000) / 60000) * 2 * Math.PI + k);
        return { uid: `live-${k}`, callsign: `T${k}`, type: types[k % 7], sidc: sidcs[k % 7], lat, lon, course: (k * 37) % 360, speed: 50, how: 'm-g',
          time: new Date(now).toISOString(), stale: new Date(now + 30000).toISOString(), label: { classification: k % 2 ? 'SECRET' : 'CONFIDENTIAL', releasableTo: ['JPN'], originator: 'USA' } };
      };
      globalThis.benchMake = make;
      const now0 = Date.now();
      kizuna.store.replace(Array.from({ length: n }, (_, k) => make(k, now0)));
      let next = 0;
      globalThis.benchSent = 0;
      const start = Date.now();
      globalThis.benchTimer = setInterval(() => {
        const now = Date.now();
        const due = Math.min(n, Math.floor(((now - start) * n) / 1000) - benchSent);
        for (let i = 0; i < due; i++) {
          kizuna.store.upsert(make(next, now));
          next = (next + 1) % n;
          benchSent++;
        }
      }, tick);
    }, { n: OBJECTS, tick: TICK_MS });
  } else {
    let next = 0;
    const start = Date.now();
    timer = setInterval(() => {
      const now = Date.now();
      const due = Math.min(OBJECTS, Math.floor(((now - start) * OBJECTS) / 1000) - sent);
      const batches = new Map();
      for (let n = 0; n < due; n++) {
        const k = next;
        next = (next + 1) % OBJECTS;
        const [lat, lon] = position(k, ((now - start) / 60000) * 2 * Math.PI + k);
        const c = conns[k % CONNS];
        batches.set(c, (batches.get(c) || '') + cotEvent({ uid: `bench-${k}`, callsign: `T${k}`, type: types[k % types.length], lat, lon, course: (k * 37) % 360, speed: 50, access: k % 2 ? 'SECRET' : 'CONFIDENTIAL', releasableTo: 'JPN', time: now, staleMs: 30000 }));
        sent++;
      }
      for (const [c, xml] of batches) c.sock.write(xml);
    }, TICK_MS);
    await page.waitForFunction((n) => kizuna.store.objects.size >= n, OBJECTS, { timeout: 120000 });
    progress('all objects live on the page');
  }
  // Time every redraw.
  await page.evaluate(() => {
    const layer = kizuna.layer;
    const orig = layer.redraw;
    globalThis.benchFrames = [];
    layer.redraw = function timed(...a) {
      const t0 = performance.now();
      const r = orig.apply(this, a);
      benchFrames.push(performance.now() - t0);
      return r;
    };
  });
  const results = [];
  const cdp = opt.profile ? await context.newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
  }
  for (const [name, centre, zoom] of ZOOMS) {
    await page.evaluate(({ centre, zoom }) => { kizuna.map.setView(centre, zoom, { animate: false }); }, { centre, zoom });
    await new Promise((r) => setTimeout(r, 1000));
    await page.evaluate(() => { benchFrames.length = 0; });
    if (LOOP > 0 && opt.feed === 'page') {
      const cpu0 = rendererCPU();
      if (cdp) await cdp.send('Profiler.start');
      const loop = await page.evaluate(({ n, frames }) => {
        clearInterval(benchTimer);
        const L = kizuna.layer;
        const g = L._canvas.getContext('2d');
        const times = [];
        let next = 0;
        for (let f = 0; f < frames; f++) {
          const t0 = performance.now();
          const now = Date.now();
          for (let i = 0; i < n / 20; i++) {
            kizuna.store.upsert(benchMake(next, now));
            next = (next + 1) % n;
          }
          const t1 = performance.now();
          L.redraw();
          g.getImageData(0, 0, 1, 1);
          times.push([performance.now() - t1, t1 - t0]);
        }
        return times;
      }, { n: OBJECTS, frames: LOOP });
      const cpu = rendererCPU() - cpu0;
      // The same updates without drawing: the feed's own CPU time, to
      // subtract.
      const cpuF0 = rendererCPU();
      await page.evaluate(({ n, frames }) => {
        let next = 0;
        for (let f = 0; f < frames; f++) {
          const now = Date.now();
          for (let i = 0; i < n / 20; i++) {
            kizuna.store.upsert(benchMake(next, now));
            next = (next + 1) % n;
          }
        }
      }, { n: OBJECTS, frames: LOOP });
      const cpuFeed = rendererCPU() - cpuF0;
      if (cdp) {
        const { profile } = await cdp.send('Profiler.stop');
        const self = new Map();
        const byId = new Map(profile.nodes.map((n) => [n.id, n]));
        for (let i = 0; i < profile.samples.length; i++) {
          const n = byId.get(profile.samples[i]);
          const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
          self.set(k, (self.get(k) || 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
        }
        const top = [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 14);
        console.error(`zoom ${zoom} self time, ms per frame: ${top.map(([k, v]) => `${k} ${f1(v / LOOP)}`).join(' | ')}`);
      }
      const draw = loop.map((t) => t[0]).sort((a, b) => a - b);
      const feed = loop.reduce((a, t) => a + t[1], 0);
      results.push(`loop zoom=${zoom}(${name}) frames=${LOOP} frame_ms p50=${f1(q(draw, 0.5))} p95=${f1(q(draw, 0.95))} max=${f1(draw.at(-1))} feed_ms/frame=${f1(feed / LOOP)} renderer_cpu_ms/frame=${f1(cpu / LOOP)} (feed included) feed_only_cpu_ms/frame=${f1(cpuFeed / LOOP)} draw_cpu_ms/frame=${f1((cpu - cpuFeed) / LOOP)}`);
      await page.evaluate(() => { globalThis.benchTimer = setInterval(() => {}, 1000); });
      progress(`zoom ${zoom} loop measured`);
      continue;
    }
    const sentNow = async () => (opt.feed === 'page' ? page.evaluate(() => benchSent) : sent);
    const sent0 = await sentNow();
    const t0 = Date.now();
    if (cdp) await cdp.send('Profiler.start');
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const prof = cdp ? profileTotals((await cdp.send('Profiler.stop')).profile) : null;
    const got = await page.evaluate(() => ({ frames: benchFrames.slice().sort((a, b) => a - b), clusters: kizuna.layer.clusters.length, labels: kizuna.layer.labels.length, drawn: kizuna.layer.drawn.size }));
    const rate = ((await sentNow()) - sent0) / ((Date.now() - t0) / 1000);
    progress(`zoom ${zoom} measured`);
    results.push(`feed=${opt.feed} zoom=${zoom}(${name}) frames=${got.frames.length} frame_ms p50=${f1(q(got.frames, 0.5))} p95=${f1(q(got.frames, 0.95))} max=${f1(got.frames.at(-1))} in_view=${got.drawn} clusters=${got.clusters} labels=${got.labels} rate=${rate.toFixed(0)}/s${prof ? ` cpu_profile: redraw=${f1(prof.redraw / Math.max(1, got.frames.length))} ms/frame gc=${f1(prof.gc / Math.max(1, got.frames.length))} ms/frame busy=${f1(prof.busy / SECONDS)} ms/s` : ''}`);
  }
  if (timer) clearInterval(timer);

  for (const r of results) console.log(r);
  console.log(`replay window=1h history_reports=${OBJECTS * REPORTS} rows_loaded=${rep.rows} objects=${rep.uids} shown=${rep.shown} bytes=${bytes} load_ms=${replayMs} (history written in ${historyS.toFixed(0)} s) cpus=${os.cpus().length} load_avg=${os.loadavg().map((x) => x.toFixed(1)).join(',')}`);
  if (errors.length) {
    console.error('page errors:', errors);
    exitCode = 1;
  }
  for (const c of conns) c.close();
} catch (err) {
  console.error(err);
  console.error(`server log (tail):\n${server.log.slice(-3000)}`);
  exitCode = 1;
} finally {
  await browser.close();
  await server.stop();
}
process.exit(exitCode);
