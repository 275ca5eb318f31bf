// Helpers for the browser tests: build and run a real `kizuna serve`,
// publish CoT over plain TCP, and drive headless Chromium.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const artifacts = path.join(repo, 'artifacts');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let binary = null;
// kizunaBinary builds the server once per test process.
export function kizunaBinary() {
  if (binary) return binary;
  if (process.env.KIZUNA_BIN) {
    binary = process.env.KIZUNA_BIN; // a binary built beforehand
    return binary;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'kizuna-web-bin-'));
  const out = path.join(dir, 'kizuna');
  execFileSync('go', ['build', '-o', out, './cmd/kizuna'], {
    cwd: repo,
    env: { ...process.env, CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  binary = out;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return out;
}

// tempDir makes a directory that is removed when the test process exits.
export function tempDir(prefix) {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

// patience turns how long a test waits for something it expects to happen
// into the deadline it allows. A wait is not a latency goal (withinGoal
// checks those): it only bounds how long a test hangs before it fails. Beside
// the Go race suite on two cores, a page or a server can stall for seconds,
// so outside `make bench-web` (KIZUNA_WEB_TIMING=strict) every wait gets four
// times its nominal time. A test that waits for something that never happens
// still fails, only later.
export function patience(ms) {
  return strictTiming ? ms : ms * 4;
}

// strictTiming: `make bench-web` runs the browser tests alone on a quiet
// machine and holds them to the nominal waits and goals.
const strictTiming = process.env.KIZUNA_WEB_TIMING === 'strict';

// until polls fn until it returns a truthy value, for up to patience(timeoutMs).
export async function until(what, fn, timeoutMs = 10000, everyMs = 20) {
  timeoutMs = patience(timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Server is one running `kizuna serve`.
// withinGoal checks a user-visible latency against its goal. The goal itself
// (say, 100 symbols on the map within 1 s) is a benchmark: it holds on a
// quiet machine, and `make bench-web` (KIZUNA_WEB_TIMING=strict) checks it
// there. Beside the Go race suite on two cores the same page can take a few
// hundred milliseconds more, so `make test` allows three times the goal:
// enough to pass on a busy machine, not enough to hide a map that redraws on
// a slow timer. The figure is printed either way.
export function withinGoal(t, what, tookMs, goalMs) {
  const limit = strictTiming ? goalMs : goalMs * 3;
  t.diagnostic(`${what}: ${tookMs} ms (goal ${goalMs} ms${strictTiming ? '' : `, limit ${limit} ms beside the other suites`})`);
  if (tookMs > limit) throw new Error(`${what} took ${tookMs} ms (limit ${limit} ms, goal ${goalMs} ms)`);
}

export class Server {
  // args: the serve flags after --data.
  constructor({ dataDir, args }) {
    this.dataDir = dataDir;
    this.args = args;
    this.proc = null;
    this.log = '';
  }

  async start() {
    const lj = path.join(this.dataDir, 'listeners.json');
    rmSync(lj, { force: true });
    this.proc = spawn(kizunaBinary(), ['serve', '--data', this.dataDir, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b) => {
      this.log += b.toString();
      if (this.log.length > 200000) this.log = this.log.slice(-100000);
    };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    const exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
    this.exited = exited;
    let code = null;
    exited.then((c) => { code = c; });
    await until('listeners.json', () => {
      if (code !== null) throw new Error(`kizuna serve exited with ${code}:\n${this.log}`);
      if (!existsSync(lj)) return false;
      try {
        return JSON.parse(readFileSync(lj, 'utf8'));
      } catch {
        return false;
      }
    }, 30000);
    this.listeners = JSON.parse(readFileSync(lj, 'utf8'));
    this.cot = {};
    this.http = {};
    for (const l of this.listeners) {
      const nation = (l.principal || '').split(':')[0];
      if (l.kind === 'cot-tcp' && !this.cot[nation]) this.cot[nation] = l.addr;
      if (l.kind === 'http' && !this.http[nation]) this.http[nation] = `http://${l.addr}`;
    }
    const any = Object.values(this.http)[0];
    await until('/healthz', async () => (await fetch(`${any}/healthz`)).ok, 30000);
    return this;
  }

  // addrs returns the listener addresses, to restart on the same ports.
  addrs() {
    return this.listeners.map((l) => l.addr);
  }

  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill(signal);
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 20000);
    await this.exited;
    clearTimeout(killer);
  }
}

// serveArgs are the flags of the test node: a USA node with TAK listeners for
// a USA and a JPN principal and web listeners for JPN, USA and KOR.
// jpnCaveats names the caveats the JPN web principal holds (none by default).
export function serveArgs(ports = {}, { jpnCaveats = '' } = {}) {
  const a = (k) => `127.0.0.1:${ports[k] ?? 0}`;
  return [
    '--nation', 'USA',
    '--cot-tcp', `${a('cotUSA')}@USA:SECRET`,
    '--cot-tcp', `${a('cotJPN')}@JPN:SECRET`,
    '--http', `${a('httpJPN')}@JPN:SECRET${jpnCaveats ? `:${jpnCaveats}` : ''}`,
    '--http', `${a('httpUSA')}@USA:SECRET`,
    '--http', `${a('httpKOR')}@KOR:SECRET`,
  ];
}

// ---- CoT ---------------------------------------------------------------------

const iso = (ms) => new Date(ms).toISOString();

export function cotEvent({ uid, type = 'a-f-G-U-C-I', lat, lon, hae = 0, callsign, course, speed, access, releasableTo, caveat, time = Date.now(), staleMs = 60000, how = 'm-g', detail = '' }) {
  const attrs = [
    `version="2.0"`, `uid="${uid}"`, `type="${type}"`, `how="${how}"`,
    `time="${iso(time)}"`, `start="${iso(time)}"`, `stale="${iso(time + staleMs)}"`,
  ];
  if (access) attrs.push(`access="${access}"`);
  if (releasableTo) attrs.push(`releasableTo="${releasableTo}"`);
  if (caveat) attrs.push(`caveat="${caveat}"`);
  const track = course !== undefined ? `<track course="${course}" speed="${speed ?? 0}"/>` : '';
  return `<event ${attrs.join(' ')}><point lat="${lat}" lon="${lon}" hae="${hae}" ce="10" le="10"/><detail><contact callsign="${callsign ?? uid}"/>${track}${detail}</detail></event>`;
}

// TakClient is a plain-TCP CoT publisher.
export class TakClient {
  static async connect(addr) {
    const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.on('data', () => {}); // the server's offers and events are not needed here
    sock.on('error', () => {});
    const c = new TakClient();
    c.sock = sock;
    return c;
  }

  send(xml) {
    return new Promise((resolve, reject) => this.sock.write(xml, (err) => (err ? reject(err) : resolve())));
  }

  close() {
    this.sock.destroy();
  }
}

// ---- Browser -----------------------------------------------------------------

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium package`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-features=Translate,MediaRouter,OptimizationHints',
    ],
  });
}

// Probes for optional panels answer 404 on a node without them, and so does
// the history of a track that has none stored yet, and a sustainment
// forecast computed from data hidden from the page; Chromium logs every 404
// as a console error. These are the only errors tolerated.
const OPTIONAL = /\/api\/v1\/((units|orders|authority|federation|sustainment\/forecast)|objects\/[^/]+\/history)(\?|$)/;

export function isLoopback(url) {
  if (url.startsWith('data:') || url.startsWith('blob:') || url === 'about:blank') return true;
  try {
    const u = new URL(url);
    return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) && ['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol);
  } catch {
    return false;
  }
}

// openPage opens url in a fresh context and records every request that
// leaves loopback (and blocks it), every console error and page error.
//
// With csp, every response carries that Content-Security-Policy, as a
// deployment would add it; the browser reports violations as console errors.
export async function openPage(browser, url, opts = {}) {
  return loadPage(await blankPage(browser, opts), url);
}

// blankPage is openPage before it navigates: a fresh context and page with
// their recorders.
async function blankPage(browser, { viewport = { width: 1280, height: 800 }, csp = '' } = {}) {
  const context = await browser.newContext({ viewport, serviceWorkers: 'block' });
  const page = await context.newPage();
  const rec = { outside: [], errors: [], requests: [] };
  await context.route('**/*', async (route) => {
    const u = route.request().url();
    if (!isLoopback(u)) {
      rec.outside.push(u);
      return route.abort();
    }
    // The policy is set on the document. (Fulfilling the stream worker's
    // script through the test's interception breaks its WebSocket, so the
    // worker keeps the server's own headers.)
    const type = route.request().resourceType();
    if (!csp || type !== 'document') return route.continue();
    const res = await route.fetch();
    return route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': csp } });
  });
  page.on('request', (r) => {
    rec.requests.push(r.url());
    if (!isLoopback(r.url())) rec.outside.push(r.url());
  });
  page.on('websocket', (ws) => {
    rec.requests.push(ws.url());
    if (!isLoopback(ws.url())) rec.outside.push(ws.url());
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const loc = m.location()?.url || '';
    if (OPTIONAL.test(loc) && /status of 404/.test(m.text())) return;
    rec.errors.push(`${m.text()} (${loc})`);
  });
  page.on('pageerror', (e) => rec.errors.push(`pageerror: ${e.message}`));
  await page.exposeFunction('kizunaTestCSPViolation', (v) => rec.errors.push(`csp: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => globalThis.kizunaTestCSPViolation(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, context, rec };
}

// loadPage navigates a blank page to the map at url and waits for its first
// snapshot.
async function loadPage(p, url) {
  await p.page.goto(url);
  await p.page.waitForFunction(() => globalThis.kizuna && globalThis.kizuna.stats.snapshots > 0, null, { timeout: patience(15000) });
  return p;
}

// Pages hands out fresh pages as openPage does, each in its own context,
// but makes the next one ready while the current test runs: creating a
// context and a page (a new renderer process) takes a second or more on a
// busy machine, which the test would otherwise wait for. The next page is
// made ready up to, not including, its navigation, so a test that
// publishes and then opens its page still sees its objects arrive in the
// page's first snapshot. (Loading the map ahead as well was tried: on two
// busy cores it slowed the test running beside it as much as it saved.)
export class Pages {
  // The first page is made ready at once.
  constructor(browser) {
    this.browser = browser;
    this.ready = new Map(); // JSON of the options -> promise of a blank page
    this.ahead();
  }

  // ahead starts making a blank page with opts ready, unless one is.
  ahead(opts = {}) {
    const k = JSON.stringify(opts);
    if (this.ready.has(k)) return;
    const p = blankPage(this.browser, opts);
    p.catch(() => {}); // reported to the test that takes it
    this.ready.set(k, p);
  }

  // open returns a fresh page at url, made from the blank page ready for
  // opts if any, and then makes the next one ready; with ahead: false it
  // does not (for a test that a page starting beside it would disturb: it
  // calls ahead() itself once that part is done).
  async open(url, opts = {}, { ahead = true } = {}) {
    const k = JSON.stringify(opts);
    const blank = this.ready.get(k);
    this.ready.delete(k);
    const p = await loadPage(await (blank ?? blankPage(this.browser, opts)), url);
    if (ahead) this.ahead(opts); // once this one is up, not beside its loading
    return p;
  }

  // close closes the pages made ready and not taken.
  async close() {
    const left = [...this.ready.values()];
    this.ready.clear();
    for (const p of left) {
      try {
        await (await p).context.close();
      } catch {
        // it failed to open: nothing to close
      }
    }
  }
}

export function ensureArtifacts() {
  mkdirSync(artifacts, { recursive: true });
  return artifacts;
}

// ---- The embedded map ---------------------------------------------------------

// pageURL returns the map of one web listener, after checking that the node
// serves the embedded application there.
export async function pageURL(base) {
  const res = await fetch(`${base}/`);
  const body = await res.text();
  if (!res.ok || !body.includes('banner-top')) throw new Error(`${base}/ does not serve the web map (HTTP ${res.status})`);
  return `${base}/`;
}
