import t from 'tap';
import { launchChromium, servePages } from '../harness/chromium';
import { metricValue, readGzipLines, removeDir, testGateway } from '../helpers/gateway';

// Issue 24: `Origin: null` passed allowedOrigins, so a sandboxed iframe or a data: page on any
// site could write a public topic with sendBeacon. In real Chromium, against the example
// topics as shipped (widget/impression allows http://localhost:*): a page on localhost sends
// one beacon of its own, which is written; a sandboxed iframe inside that same page sends
// one, whose Origin is null, and it is not written. (A data: page is left out: Chromium
// itself blocks its requests to a loopback gateway as private network access; the raw-socket
// test in test/hostile/silent-changes.test.ts sends its Origin and Referer.)

t.setTimeout(120_000);

t.test('sendBeacon from a sandboxed iframe (Origin: null) writes nothing', async (t) => {
  const { gateway, dataDir } = testGateway();
  t.teardown(() => removeDir(dataDir));
  const { port } = await gateway.start();
  const endpoint = `http://localhost:${port}/v1/beacon/widget/impression`;
  const beacon = (widgetId: string) =>
    `navigator.sendBeacon(${JSON.stringify(endpoint)}, JSON.stringify({ widgetId: ${JSON.stringify(widgetId)}, pageUrl: 'x', placement: 'TOP', position: 0 }))`;
  const framed = `<script>${beacon('from-sandboxed-frame')}</script>`;
  const pagePort = await servePages(t, () => `<!doctype html><script>${beacon('from-the-page')}</script>
    <iframe sandbox="allow-scripts" srcdoc="${framed.replace(/"/g, '&quot;')}"></iframe>`);
  const origins: string[] = [];
  gateway.publicServer.server.on('request', (request) => {
    if (request.method === 'POST') origins.push(String(request.headers.origin));
  });
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`http://localhost:${pagePort}/`);
  for (const until = Date.now() + 20_000; origins.length < 2 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
  t.same(origins.sort(), [`http://localhost:${pagePort}`, 'null'], "the browser sent both beacons, the frame's with Origin: null");
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { status_code: '403' }), 1, 'the null-origin beacon refused (403)');
  await page.close();
  await gateway.close();
  t.same(readGzipLines(`${dataDir}/widget`).map((l) => l.data.widgetId), ['from-the-page'], "only the page's own beacon is written");
});
