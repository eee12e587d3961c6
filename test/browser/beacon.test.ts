import t from 'tap';
import { launchChromium, servePages } from '../harness/chromium';
import { gatewayAllowing, metricValue, readGzipLines, validImpression } from '../helpers/gateway';

// Beacons as a real browser sends them: an <img> pixel, navigator.sendBeacon (text/plain,
// no preflight) and fetch with keepalive and application/json (CORS preflight), from a page
// on an allowed origin, and from one that is not.

t.setTimeout(180_000);

/** A publisher page that fires the three kinds of beacon at the gateway, then reports what it saw. */
function publisherPage(gateway: string): string {
  const event = (widgetId: string) => JSON.stringify(validImpression({ widgetId }));
  const pixel = new URLSearchParams({ ...validImpression({ widgetId: 'img-pixel' }), position: '4', visibleMs: '900' } as Record<string, string>);
  return `<!doctype html><html><body><script>
    window.results = {};
    const base = ${JSON.stringify(gateway)} + '/v1/beacon/widget/impression';
    const img = new Image();
    img.onload = () => (window.results.pixel = 'loaded ' + img.naturalWidth + 'x' + img.naturalHeight);
    img.onerror = () => (window.results.pixel = 'error');
    img.src = base + '?' + ${JSON.stringify(pixel.toString())};
    window.results.sendBeacon = navigator.sendBeacon(base, ${JSON.stringify(event('send-beacon'))});
    fetch(base, { method: 'POST', keepalive: true, headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(event('fetch-keepalive'))} })
      .then((r) => (window.results.fetch = r.status), (e) => (window.results.fetch = 'error ' + e.message));
  </script></body></html>`;
}

t.test('pixel, sendBeacon and keepalive fetch from a real browser', async (t) => {
  let gatewayUrl = '';
  const pagePort = await servePages(t, () => publisherPage(gatewayUrl));
  // localhost and 127.0.0.1 are different origins: the page is cross-origin to the gateway.
  const allowedOrigin = `http://localhost:${pagePort}`;
  const { gateway, dataDir, url } = await gatewayAllowing(t, allowedOrigin);
  gatewayUrl = url;
  const browser = await launchChromium(t);

  const page = await browser.newPage();
  await page.goto(`${allowedOrigin}/article`);
  await page.waitForFunction(() => {
    const r = (globalThis as any).results;
    return r.pixel !== undefined && r.fetch !== undefined;
  });
  const results = await page.evaluate(() => (globalThis as any).results);
  t.equal(results.pixel, 'loaded 1x1', 'the pixel answered a 1×1 image');
  t.equal(results.sendBeacon, true, 'sendBeacon queued the beacon');
  t.equal(results.fetch, 204, 'keepalive fetch passed the CORS preflight and got 204');

  // A page on another origin: its beacons are refused and nothing of them is stored.
  const foreign = await browser.newPage();
  await foreign.goto(`http://127.0.0.1:${pagePort}/elsewhere`);
  await foreign.waitForFunction(() => (globalThis as any).results.fetch !== undefined && (globalThis as any).results.pixel !== undefined);
  const refused = await foreign.evaluate(() => (globalThis as any).results);
  t.equal(refused.pixel, 'error', 'a foreign page gets no pixel');
  t.match(String(refused.fetch), /^error/, 'a foreign page fails the CORS preflight');

  // sendBeacon leaves without waiting; give the gateway a moment to have it.
  for (let i = 0; i < 50 && metricValue(await gateway.metrics.render(), 'tracking_gateway_events_total', { outcome: 'accepted' }) < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const metrics = await gateway.metrics.render();
  await gateway.close();
  const widgets = readGzipLines(dataDir).map((line) => line.data.widgetId).sort();
  t.same(widgets, ['fetch-keepalive', 'img-pixel', 'send-beacon'], 'the three beacons of the allowed page, and only those, are stored');
  t.ok(metricValue(metrics, 'tracking_gateway_events_rejected_total', { reason: 'origin_not_allowed' }) >= 2, 'the foreign beacons are counted as refused');
});
