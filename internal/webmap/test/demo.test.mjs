// `kizuna demo`: one web map per nation, side by side. What JPN sees that
// KOR does not is plain, KOR never holds anything not released to it, and
// the missile warning reaches every nation. Saves artifacts/web-demo.png.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { kizunaBinary, tempDir, launchBrowser, openPage, until, ensureArtifacts, patience } from './lib.mjs';

// The demo's fixed loopback ports (web map and TAK, per nation).
const PORTS = [8080, 8180, 8280, 8087, 8187, 8287];

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('kizuna demo', { timeout: 900000 }, () => {
  let demo;
  let out = '';
  let browser;
  let busy = [];

  before(async () => {
    for (const p of PORTS) if (!(await portFree(p))) busy.push(p);
    if (busy.length) return;
    demo = spawn(kizunaBinary(), ['demo', '--data', tempDir('kizuna-web-demo-'), '--warning-every', '5s', '--period', '1s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout.on('data', (b) => { out += b; });
    demo.stderr.on('data', (b) => { out += b; });
    await until('the demo to print its web maps', () => /KOR\s+\S+\s+http:\/\/\S+/.test(out), 60000);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null) {
      const exited = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGINT'); // Ctrl-C, as an operator stops it
      const killer = setTimeout(() => demo.kill('SIGKILL'), 20000);
      await exited;
      clearTimeout(killer);
    }
  });

  it('shows each nation exactly what its labels release', async (t) => {
    if (busy.length) {
      t.skip(`demo ports in use: ${busy.join(', ')}`);
      return;
    }
    const urls = {};
    for (const m of out.matchAll(/^\s+([A-Z]{3})\s+\S+\s+(http:\/\/\S+)/gm)) urls[m[1]] = m[2];
    assert.deepEqual(Object.keys(urls).sort(), ['JPN', 'KOR', 'USA']);

    const pages = {};
    for (const n of ['USA', 'JPN', 'KOR']) pages[n] = await openPage(browser, urls[n], { viewport: { width: 900, height: 720 } });
    try {
      // The simulated units report every second: wait for a full picture,
      // including a missile warning, which is released to all three.
      for (const n of ['USA', 'JPN', 'KOR']) {
        await pages[n].page.waitForFunction(() => kizuna.store.objects.size >= 5, null, { timeout: patience(30000) });
        await pages[n].page.waitForSelector('#alerts .alert', { timeout: patience(30000) });
        assert.match(await pages[n].page.textContent('#whoami'), new RegExp(`^${n} · SECRET`));
      }
      await new Promise((r) => setTimeout(r, 3000));
      const held = {};
      for (const n of ['USA', 'JPN', 'KOR']) {
        held[n] = await pages[n].page.evaluate(() => [...kizuna.store.objects.values()].map((o) => ({ uid: o.uid, label: o.label })));
      }
      // Nothing on a page that its nation may not see.
      for (const n of ['USA', 'JPN', 'KOR']) {
        for (const o of held[n]) {
          const rel = o.label.originator === n || (o.label.releasableTo || []).includes(n);
          assert.ok(rel, `${n} page holds ${o.uid} labelled ${JSON.stringify(o.label)}`);
        }
      }
      // JPN sees units that were not released to KOR.
      const kor = new Set(held.KOR.map((o) => o.uid));
      const onlyJPN = held.JPN.filter((o) => !kor.has(o.uid));
      assert.ok(onlyJPN.length > 0, 'JPN sees nothing KOR does not');
      for (const o of onlyJPN) assert.ok(!(o.label.releasableTo || []).includes('KOR') && o.label.originator !== 'KOR');

      for (const n of ['USA', 'JPN', 'KOR']) {
        assert.deepEqual(pages[n].rec.outside, [], `${n} page requests left loopback`);
        assert.deepEqual(pages[n].rec.errors, [], `${n} page console errors`);
      }

      // Screenshots: one per nation and the three side by side.
      const shots = {};
      for (const n of ['USA', 'JPN', 'KOR']) {
        await pages[n].page.evaluate(() => { kizuna.map.setView([35, 131], 5, { animate: false }); });
      }
      await new Promise((r) => setTimeout(r, 500));
      for (const n of ['USA', 'JPN', 'KOR']) {
        const png = await pages[n].page.screenshot({ path: path.join(ensureArtifacts(), `web-demo-${n.toLowerCase()}.png`) });
        shots[n] = png.toString('base64');
      }
      const ctx = await browser.newContext({ viewport: { width: 2700, height: 720 } });
      const p = await ctx.newPage();
      await p.setContent(`<html><body style="margin:0;display:flex;background:#000">${['USA', 'JPN', 'KOR'].map((n) => `<img src="data:image/png;base64,${shots[n]}" style="width:33.33%">`).join('')}</body></html>`);
      await p.screenshot({ path: path.join(ensureArtifacts(), 'web-demo.png') });
      await ctx.close();
    } finally {
      for (const n of Object.keys(pages)) await pages[n].context.close();
    }
  });
});
