// The page reconnects by itself after the server restarts on the same data
// directory and ports, and shows the picture again.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, serveArgs, tempDir, pageURL, launchBrowser, openPage, TakClient, cotEvent, until, patience } from './lib.mjs';

describe('web map across a server restart', { timeout: 900000 }, () => {
  let server;
  let browser;
  const dataDir = tempDir('kizuna-web-restart-');

  before(async () => {
    server = await new Server({ dataDir, args: serveArgs() }).start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const signal of ['SIGTERM', 'SIGKILL']) {
    it(`reconnects after ${signal} and a restart`, async () => {
      const url = await pageURL(server.http.JPN);
      const { page, context, rec } = await openPage(browser, url);
      try {
        const uid = `restart-${signal}`;
        let tak = await TakClient.connect(server.cot.USA);
        await tak.send(cotEvent({ uid, callsign: 'PERSIST', type: 'a-f-G-U-C-I', lat: 35.5, lon: 139.5, access: 'SECRET', releasableTo: 'JPN', staleMs: 600000 }));
        await page.waitForFunction((u) => kizuna.layer.drawn.has(u), uid, { timeout: patience(5000) });
        tak.close();
        // Durability covers what arrived more than a second before a kill:
        // the store commits the object and its history row in one flush,
        // which must come within that time (the wait was a 1.5 s sleep).
        await until('the object committed to the store', async () => {
          const r = await (await fetch(`${server.http.JPN}/api/v1/objects/${uid}/history`)).json().catch(() => ({}));
          return r.points?.length >= 1;
        }, 1500);
        const snapshots = await page.evaluate(() => kizuna.stats.snapshots);

        const ports = server.listeners.map((l) => Number(l.addr.split(':').pop()));
        await server.stop(signal);
        await page.waitForFunction(() => kizuna.stats.state === 'reconnecting', null, { timeout: patience(10000) });

        // Same data directory, same ports.
        const [cotUSA, cotJPN, httpJPN, httpUSA, httpKOR] = ports;
        server = await new Server({ dataDir, args: serveArgs({ cotUSA, cotJPN, httpJPN, httpUSA, httpKOR }) }).start();
        assert.deepEqual(server.listeners.map((l) => Number(l.addr.split(':').pop())), ports);

        await page.waitForFunction((n) => kizuna.stats.snapshots > n && kizuna.stats.state === 'live', snapshots, { timeout: patience(15000) });
        await page.waitForFunction((u) => kizuna.layer.drawn.has(u), uid, { timeout: patience(5000) });
        assert.equal(await page.textContent('#conn'), 'live');

        // And the stream is live again: a new object appears.
        tak = await TakClient.connect(server.cot.USA);
        await tak.send(cotEvent({ uid: `${uid}-after`, type: 'a-f-A-M-F', lat: 34.5, lon: 138.5, access: 'SECRET', releasableTo: 'JPN' }));
        await page.waitForFunction((u) => kizuna.layer.drawn.has(u), `${uid}-after`, { timeout: patience(5000) });
        tak.close();

        // While the server was down the browser reported the cut order-event
        // stream, failed connection attempts to loopback and (after a kill)
        // a request to the node that was in flight when it died; nothing
        // else went wrong.
        const reset = /ERR_CONNECTION_RESET \(http:\/\/127\.0\.0\.1:\d+\//;
        const expected = /ERR_CONNECTION_REFUSED|ERR_INCOMPLETE_CHUNKED_ENCODING \(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/orders\/stream\)|WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/stream' failed/;
        const other = rec.errors.filter((e) => !expected.test(e) && !(signal === 'SIGKILL' && reset.test(e)));
        assert.deepEqual(other, []);
        assert.deepEqual(rec.outside, []);
      } finally {
        await context.close();
      }
    });
  }
});

