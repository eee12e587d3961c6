import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import t, { type Test } from 'tap';
import type { Gateway } from '../../src/gateway';
import { TRACKER_FILE } from '../../src/http/routes/tracker';
import { launchChromium, servePages } from '../harness/chromium';
import { gatewayAllowing, metricValue, readGzipLines } from '../helpers/gateway';

// The browser tracker in real Chromium: a publisher page on one origin loads /v1/tracker.js
// from the gateway on another, with its integrity hash, and tracks impressions through the
// beacon alias. What the gateway stored is read back from its files: each event once.

t.setTimeout(240_000);

const INTEGRITY = `sha384-${createHash('sha384').update(readFileSync(TRACKER_FILE)).digest('base64')}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A page that loads the tracker and runs `script` with `tracker` created; `/next` is empty. */
function publisherPage(gateway: string, path: string): string {
  if (path.startsWith('/next')) return '<!doctype html><title>next</title><p>the next page</p>';
  return `<!doctype html><html><head>
    <script src="${gateway}/v1/tracker.js" integrity="${INTEGRITY}" crossorigin="anonymous"></script>
  </head><body><script>
    const tracker = TrackingGateway.create({ endpoint: ${JSON.stringify(`${gateway}/v1/in`)} });
    const impression = (i, run) => ({ widgetId: run + '-' + i, pageUrl: location.href, placement: 'SIDEBAR', position: i });
    window.trackMany = (n, run) => { for (let i = 0; i < n; i++) tracker.track('widget', 'impression', impression(i, run)); };
    window.tracker = tracker;
    ${path.startsWith('/leave-at-once') ? "trackMany(50, 'leave'); location.href = '/next';" : ''}
  </script></body></html>`;
}

/** Waits until the gateway has accepted `count` events (or the time is up), then closes it, flushing them to its files. */
async function storedAfter(gateway: Gateway, dataDir: string, count: number, ms = 30_000): Promise<any[]> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (metricValue(await gateway.metrics.render(), 'tracking_gateway_events_total', { outcome: 'accepted' }) >= count) break;
  }
  await gateway.close();
  return readGzipLines(`${dataDir}/widget`);
}

/** Each of `count` impressions of `run` stored exactly once, with the tracker's $id as its id. */
function assertEachOnce(t: Test, lines: any[], run: string, count: number): void {
  const widgets = lines.map((l) => l.data.widgetId).sort();
  t.same(widgets, Array.from({ length: count }, (_, i) => `${run}-${i}`).sort(), `all ${count} events stored, each once`);
  t.equal(new Set(lines.map((l) => l.id)).size, count, 'each with an id of its own');
  t.ok(lines.every((l) => UUID.test(l.id)), 'the ids are the random UUIDs the tracker gave them ($id)');
  t.ok(lines.every((l) => typeof l.time === 'string' && Date.now() - Date.parse(l.time) < 120_000), 'and the time of track() as their event time ($time)');
  t.same([...new Set(lines.map((l) => l.source))], ['/v1/beacon/widget/impression']);
}

/**
 * How each POST to the beacon alias was sent, as the gateway saw it: `Sec-Fetch-Mode` is
 * `cors` for the tracker's fetch and `no-cors` for sendBeacon (a text/plain beacon). Read on
 * the gateway's socket: Chromium no longer reports to the page a beacon sent as it goes.
 */
function watchSends(gateway: Gateway): string[] {
  const modes: string[] = [];
  gateway.publicServer.server.on('request', (request: IncomingMessage) => {
    if (request.method === 'POST' && request.url?.startsWith('/v1/in/')) modes.push(String(request.headers['sec-fetch-mode']));
  });
  return modes;
}

t.test('tracker in real Chromium', async (t) => {
  const browser = await launchChromium(t);
  let gatewayUrl = '';
  const pagePort = await servePages(t, (request) => publisherPage(gatewayUrl, request.url ?? '/'));
  const allowedOrigin = `http://localhost:${pagePort}`;

  t.test('50 events tracked, then the page is left at once: all 50 arrive, each once', async (t) => {
    const { gateway, dataDir, url } = await gatewayAllowing(t, allowedOrigin);
    gatewayUrl = url;
    const sends = watchSends(gateway);
    const page = await browser.newPage();
    await page.goto(`${allowedOrigin}/leave-at-once`);
    await page.waitForURL(`${allowedOrigin}/next`);
    const lines = await storedAfter(gateway, dataDir, 50);
    assertEachOnce(t, lines, 'leave', 50);
    // Two full batches of 20 left by fetch while the page lived; the last 10 as it went.
    t.same(sends.sort(), ['cors', 'cors', 'no-cors'], 'two keepalive fetches of full batches, then one sendBeacon as the page went');
    await page.close();
  });

  t.test('the network is cut, then restored: the queued events arrive, none twice', async (t) => {
    const { gateway, dataDir, url } = await gatewayAllowing(t, allowedOrigin);
    gatewayUrl = url;
    const page = await browser.newPage();
    await page.goto(`${allowedOrigin}/live`);
    let aborted = 0;
    await page.route('**/v1/in/**', (route) => {
      aborted++;
      return route.abort('internetdisconnected');
    });
    await page.evaluate(() => (globalThis as any).trackMany(30, 'cut'));
    // The two batches fail, are queued again and retried with backoff: let a retry fail too.
    for (const until = Date.now() + 20_000; aborted < 3 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    t.ok(aborted >= 3, `sends failed while the network was cut (${aborted} aborted)`);
    t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_events_total', { outcome: 'accepted' }), 0, 'nothing reached the gateway');

    const sends = watchSends(gateway);
    await page.unroute('**/v1/in/**');
    for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      if (metricValue(await gateway.metrics.render(), 'tracking_gateway_events_total', { outcome: 'accepted' }) >= 30) break;
    }
    // Time for a duplicate to show up, had a batch been sent twice.
    await new Promise((r) => setTimeout(r, 3000));
    t.ok(sends.length > 0 && sends.every((mode) => mode === 'cors'), `retried by fetch while the page lived (${sends.length} requests)`);
    const lines = await storedAfter(gateway, dataDir, 30, 0);
    assertEachOnce(t, lines, 'cut', 30);
    await page.close();
  });

  t.test('as the page is hidden: sendBeacon refused, a keepalive fetch; that refused too, one pixel per event', async (t) => {
    const { gateway, dataDir, url } = await gatewayAllowing(t, allowedOrigin);
    gatewayUrl = url;
    const requests: string[] = [];
    gateway.publicServer.server.on('request', (request: IncomingMessage) => {
      if (request.url?.startsWith('/v1/in/')) requests.push(`${request.method} ${request.headers['sec-fetch-mode']}`);
    });
    const page = await browser.newPage();
    await page.goto(`${allowedOrigin}/live`);
    await page.evaluate(() => {
      const w = globalThis as any;
      // The page stays; it reports itself hidden, as when the user switches tabs.
      Object.defineProperty(w.document, 'visibilityState', { get: () => 'hidden' });
      const hide = () => w.document.dispatchEvent(new Event('visibilitychange'));
      // As past sendBeacon's quota: it refuses the beacon.
      w.navigator.sendBeacon = () => false;
      w.trackMany(3, 'fallback-fetch');
      hide();
      // And fetch refuses too, as past the keepalive quota: the last resort is the pixel.
      w.fetch = () => Promise.reject(new TypeError('keepalive quota'));
      w.trackMany(2, 'fallback-pixel');
      hide();
    });
    const lines = await storedAfter(gateway, dataDir, 5);
    t.same(lines.map((l) => l.data.widgetId).sort(), ['fallback-fetch-0', 'fallback-fetch-1', 'fallback-fetch-2', 'fallback-pixel-0', 'fallback-pixel-1'], 'each event once');
    t.ok(lines.every((l) => UUID.test(l.id)), 'the pixels carry $id (and $time) inside $d as the POSTs do');
    t.same(requests.sort(), ['GET no-cors', 'GET no-cors', 'POST cors'], 'one keepalive fetch for the first three, then a pixel per event');
    await page.close();
  });

  t.test('respectPrivacySignals: where the browser sends Global Privacy Control, nothing is tracked', async (t) => {
    const { gateway, dataDir, url } = await gatewayAllowing(t, allowedOrigin);
    gatewayUrl = url;
    const page = await browser.newPage();
    // Chromium has no GPC setting of its own; Brave and Firefox send it. The property is what the tracker reads.
    await page.addInitScript(() => Object.defineProperty((globalThis as any).Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
    await page.goto(`${allowedOrigin}/live`);
    const tracked = await page.evaluate((endpoint) => {
      const w = globalThis as any;
      const respecting = w.TrackingGateway.create({ endpoint, respectPrivacySignals: true });
      const event = (widgetId: string) => ({ widgetId, pageUrl: w.location.href, placement: 'TOP', position: 0 });
      const result = [respecting.track('widget', 'impression', event('gpc-respected')), w.tracker.track('widget', 'impression', event('gpc-default'))];
      respecting.flush();
      w.tracker.flush();
      return result;
    }, `${url}/v1/in`);
    t.same(tracked, [false, true], 'track() says it tracked nothing; a tracker without the option tracks');
    const lines = await storedAfter(gateway, dataDir, 1);
    t.same(lines.map((l) => l.data.widgetId), ['gpc-default']);
    await page.close();
  });

  t.test('a page on an origin the topic does not allow gets nothing written', async (t) => {
    const { gateway, dataDir, url } = await gatewayAllowing(t, allowedOrigin);
    gatewayUrl = url;
    const sends = watchSends(gateway);
    const page = await browser.newPage();
    // The same site under its other name: http://127.0.0.1:<port> is not in allowedOrigins.
    await page.goto(`http://127.0.0.1:${pagePort}/leave-at-once`);
    await page.waitForURL(`http://127.0.0.1:${pagePort}/next`);
    for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const refused = metricValue(await gateway.metrics.render(), 'tracking_gateway_events_rejected_total', { reason: 'origin_not_allowed' });
      if (refused >= 3 && refused === sends.length) break;
    }
    const metrics = await gateway.metrics.render();
    // The refusal carries no CORS headers, so the page cannot read it and takes it for a
    // network error: a batch it sees fail before the page goes leaves again by sendBeacon.
    t.ok(sends.includes('cors') && sends.includes('no-cors'), 'the tracker sent by fetch and by sendBeacon, as from any page');
    // Refused on its origin before its body is read, a request counts as one refused event.
    t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { reason: 'origin_not_allowed' }), sends.length, 'every request refused, counted by reason');
    t.equal(metricValue(metrics, 'tracking_gateway_events_total', { outcome: 'accepted' }), 0);
    await gateway.close();
    t.same(readGzipLines(`${dataDir}/widget`), [], 'nothing written');
    t.same(readGzipLines(`${dataDir}/_dead-letter`), [], 'not even as dead letters');
    await page.close();
  });
});
