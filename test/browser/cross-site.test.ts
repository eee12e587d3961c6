import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import t from 'tap';
import { metricValue, PROJECT_ROOT, readGzipLines, removeDir, testGateway, validOrder } from '../helpers/gateway';

// A web page anyone can make a visitor open tries to write a service-only topic through the
// visitor's browser: fetch without CORS (text/plain needs no preflight), sendBeacon, and a
// fetch that asks for CORS with JSON. None of them carries a service key, and none is written.

t.setTimeout(180_000);

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function attackerPage(target: string): string {
  const body = JSON.stringify([validOrder({ orderId: 'cross-site' })]);
  return `<!doctype html><html><body><script>
    window.results = {};
    const target = ${JSON.stringify(target)};
    const body = ${JSON.stringify(body)};
    fetch(target, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body })
      .then((r) => (window.results.noCors = r.type), (e) => (window.results.noCors = 'error ' + e.message));
    window.results.sendBeacon = navigator.sendBeacon(target, body);
    fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      .then((r) => (window.results.cors = r.status), (e) => (window.results.cors = 'error ' + e.message));
  </script></body></html>`;
}

t.test('a page on another origin cannot make a browser write a service-only topic', async (t) => {
  const chromiumPath = execFileSync(join(PROJECT_ROOT, 'scripts', 'ensure-chromium.sh'), { encoding: 'utf8' }).trim();
  const { gateway, dataDir } = testGateway();
  const { port } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const target = `http://127.0.0.1:${port}/v1/events/shop/order-placed`;
  const pageServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(attackerPage(target)));
  const pagePort = await listen(pageServer);
  t.teardown(() => pageServer.close());

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`http://localhost:${pagePort}/innocent-article`);
  await page.waitForFunction(() => (globalThis as any).results.noCors !== undefined && (globalThis as any).results.cors !== undefined);
  const results = await page.evaluate(() => (globalThis as any).results);
  t.equal(results.noCors, 'opaque', 'the no-cors fetch left (its answer is hidden from the page)');
  t.equal(results.sendBeacon, true, 'sendBeacon queued its request');
  t.match(String(results.cors), /^error/, 'the CORS fetch fails its preflight');

  // The two requests that needed no preflight reached the gateway and were refused 401.
  let refused = 0;
  for (let i = 0; i < 50 && refused < 2; i++) {
    refused = metricValue(await gateway.metrics.render(), 'tracking_gateway_http_requests_total', { route: '/v1/events/:service/:topic', status_code: '401' });
    if (refused < 2) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(refused, 2, 'no-cors fetch and sendBeacon were answered 401');
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { service: 'shop', topic: 'order-placed', reason: 'unauthorized' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { outcome: 'accepted' }), 0);
  await gateway.close();
  t.same(readGzipLines(dataDir), [], 'nothing was written');
});
