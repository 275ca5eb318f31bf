// Screenshots of `kizuna demo` as the JPN staff sees it, at three zoom
// levels of the demo's region: the theatre, the Korea Strait and
// Tsushima. Written to artifacts/demo-z<zoom>.png.
//
// Usage (from the repository root, after `cd internal/webmap/test && npm ci`; the
// demo's fixed ports must be free):
//   node internal/webmap/bench/demo-shots.mjs [--wait 20]
// KIZUNA_BIN may name a kizuna binary built beforehand.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kizunaBinary, tempDir, launchBrowser, openPage, until, ensureArtifacts } from '../test/lib.mjs';

const { values: opt } = parseArgs({ options: { wait: { type: 'string', default: '20' } } });
const VIEWS = [
  [[34.0, 130.5], 6],
  [[34.2, 129.5], 8],
  [[34.4, 129.4], 10],
];

let out = '';
const demo = spawn(kizunaBinary(), ['demo', '--data', tempDir('kizuna-demo-shots-'), '--period', '1s', '--warning-every', '30s'], { stdio: ['ignore', 'pipe', 'pipe'] });
demo.stdout.on('data', (b) => { out += b; });
demo.stderr.on('data', (b) => { out += b; });
const browser = await launchBrowser();
try {
  await until('the demo to print its web maps', () => /KOR\s+\S+\s+http:\/\/\S+/.test(out), 60000);
  const urls = {};
  for (const m of out.matchAll(/^\s+([A-Z]{3})\s+\S+\s+(http:\/\/\S+)/gm)) urls[m[1]] = m[2];
  const { page, context } = await openPage(browser, urls.JPN, { viewport: { width: 1280, height: 800 } });
  await page.waitForFunction(() => kizuna.store.objects.size >= 5, null, { timeout: 30000 });
  await new Promise((r) => setTimeout(r, Number(opt.wait) * 1000));
  const dir = ensureArtifacts();
  for (const [centre, zoom] of VIEWS) {
    await page.evaluate(({ centre, zoom }) => { kizuna.map.setView(centre, zoom, { animate: false }); }, { centre, zoom });
    await new Promise((r) => setTimeout(r, 1500));
    const file = path.join(dir, `demo-z${zoom}.png`);
    await page.screenshot({ path: file });
    const s = await page.evaluate(() => ({ objects: kizuna.store.objects.size, clusters: kizuna.layer.clusters.length, labels: kizuna.layer.labels.length }));
    console.log(`${file} objects=${s.objects} clusters=${s.clusters} labels=${s.labels}`);
  }
  await context.close();
} finally {
  await browser.close();
  demo.kill('SIGINT');
}
