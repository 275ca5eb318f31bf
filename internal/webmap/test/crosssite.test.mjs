// Cross-site and DNS-rebinding attacks on the node's HTTP listener from a
// real browser. A second little HTTP server on another loopback port plays
// the attacker: it serves a page of its own origin, and it is also the
// browser's proxy for the name rebind.test, which it "resolves" to the
// node (a DNS rebinding: the attacker's name now points at the node, so
// its page is same-origin with whatever answers there). Every attempt to
// read objects, issue an order or open the WebSocket fails.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Server, serveArgs, tempDir, TakClient, cotEvent, repo, until } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SECRET_UID = 'crosssite-secret-marker';

// The attacker's script: it runs in the attacker's page and reports what
// it managed to do. base is where it aims (another origin, or its own
// origin after rebinding).
function attack(base, order) {
  return `
  window.results = (async () => {
    const out = {};
    try {
      const res = await fetch('${base}/api/v1/objects');
      const text = await res.text();
      out.read = { status: res.status, leaked: text.includes('${SECRET_UID}') };
    } catch (e) { out.read = { blocked: String(e) }; }
    try {
      const res = await fetch('${base}/api/v1/orders', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(JSON.stringify(order))} });
      out.orderPlain = { status: res.status, type: res.type };
    } catch (e) { out.orderPlain = { blocked: String(e) }; }
    try {
      const res = await fetch('${base}/api/v1/orders', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: ${JSON.stringify(JSON.stringify(order))} });
      out.orderJSON = { status: res.status };
    } catch (e) { out.orderJSON = { blocked: String(e) }; }
    out.ws = await new Promise((resolve) => {
      const ws = new WebSocket('${base.replace(/^http/, 'ws')}/api/v1/stream');
      let got = '';
      const done = (how) => { try { ws.close(); } catch {} resolve({ how, leaked: got.includes('${SECRET_UID}') }); };
      ws.onmessage = (m) => { got += m.data; if (got.includes('${SECRET_UID}')) done('message'); };
      ws.onerror = () => done('error');
      ws.onclose = () => done('closed');
      setTimeout(() => done(ws.readyState === 1 ? 'open' : 'timeout'), 3000);
    });
    return out;
  })();`;
}

describe('cross-site and rebinding protection', { timeout: 300000 }, () => {
  let server;
  let browser;
  let evil;
  let kizuna; // http://127.0.0.1:PORT of the USA listener
  let port;
  const order = { as: 'indopacom', recipient: 'usfj', type: 'REPORT_REQUEST', text: 'CSRF-ORDER', deadlineIn: '2h' };

  before(async () => {
    const orbat = path.join(repo, 'internal/demo/orbat.json');
    server = await new Server({ dataDir: tempDir('kizuna-web-crosssite-'), args: [...serveArgs(), '--orbat', orbat] }).start();
    kizuna = server.http.USA;
    port = new URL(kizuna).port;

    const tak = await TakClient.connect(server.cot.USA);
    await tak.send(cotEvent({ uid: SECRET_UID, lat: 35.6, lon: 139.7, access: 'SECRET', releasableTo: 'USA' }));
    await until('marker stored', async () => (await (await fetch(`${kizuna}/api/v1/objects`)).text()).includes(SECRET_UID));
    tak.close();

    // The attacker: its own page on its own origin, and a proxy that
    // sends every request for rebind.test to the node (only to loopback).
    evil = http.createServer((req, res) => {
      const u = new URL(req.url, 'http://' + req.headers.host);
      if (u.pathname === '/evil.html' || u.pathname === '/rebind.html') {
        const target = u.pathname === '/evil.html' ? kizuna : `http://rebind.test:${port}`;
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(`<!doctype html><title>evil</title><script>${attack(target, order)}</script>`);
        return;
      }
      if (u.hostname !== 'rebind.test') {
        res.writeHead(404);
        res.end();
        return;
      }
      const fwd = http.request({ host: '127.0.0.1', port, method: req.method, path: u.pathname + u.search, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      fwd.on('error', () => { res.writeHead(502); res.end(); });
      req.pipe(fwd);
    });
    evil.on('connect', (req, sock, head) => {
      // WebSocket through the proxy: a tunnel to the node for rebind.test.
      const [host] = req.url.split(':');
      if (host !== 'rebind.test') { sock.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
      const up = net.connect(Number(port), '127.0.0.1', () => {
        sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(sock);
        sock.pipe(up);
      });
      up.on('error', () => sock.destroy());
      sock.on('error', () => up.destroy());
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        `--proxy-server=http://127.0.0.1:${evil.address().port}`,
      ],
    });
  });

  after(async () => {
    await browser?.close();
    evil?.close();
    await server?.stop();
  });

  const orders = async () => (await (await fetch(`${kizuna}/api/v1/orders`)).text());

  async function run(url) {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(url);
      return await page.evaluate(() => window.results);
    } finally {
      await context.close();
    }
  }

  it('the same order from a tool without Origin is accepted (the payload is valid)', async () => {
    const res = await fetch(`${kizuna}/api/v1/orders`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...order, text: 'TOOL-ORDER' }) });
    assert.equal(res.status, 201, await res.text());
    assert.match(await orders(), /TOOL-ORDER/);
  });

  it('a page of another origin can neither read, nor issue an order, nor open the stream', async () => {
    const r = await run(`http://127.0.0.1:${evil.address().port}/evil.html`);
    assert.ok(r.read.blocked || !r.read.leaked, `read: ${JSON.stringify(r.read)}`);
    assert.ok(!r.ws.leaked && r.ws.how !== 'open', `websocket: ${JSON.stringify(r.ws)}`);
    assert.doesNotMatch(await orders(), /CSRF-ORDER/, `an order was issued: ${JSON.stringify(r)}`);
  });

  it('a page that rebinds its name to the node can neither read, nor issue an order, nor open the stream', async () => {
    const r = await run(`http://rebind.test:${port}/rebind.html`);
    assert.ok(!r.read.leaked && r.read.status !== 200, `read: ${JSON.stringify(r.read)}`);
    assert.ok(r.orderJSON.blocked || r.orderJSON.status >= 400, `order: ${JSON.stringify(r.orderJSON)}`);
    assert.ok(!r.ws.leaked && r.ws.how !== 'open', `websocket: ${JSON.stringify(r.ws)}`);
    assert.doesNotMatch(await orders(), /CSRF-ORDER/, `an order was issued: ${JSON.stringify(r)}`);
  });
});
