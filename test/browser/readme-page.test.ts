import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { TRACKER_FILE } from '../../src/http/routes/tracker';
import { launchChromium, servePages } from '../harness/chromium';
import { metricValue, PROJECT_ROOT, readGzipLines, removeDir, testGateway } from '../helpers/gateway';

// The README's tracker snippet, as someone trying it would: the example topics as shipped (no
// topic edited for the test), a page on http://localhost:<port> of whatever port its server
// took, loading /v1/in.js with the README's integrity attribute and sending to /v1/in. Issue
// 24: this wrote 0 of 50 events, because widget/impression allowed http://localhost:3000 only
// and the refusal (403 without CORS headers) is unreadable to the page; the example topic now
// allows http://localhost on any port.

t.setTimeout(120_000);

const INTEGRITY = `sha384-${createHash('sha384').update(readFileSync(TRACKER_FILE)).digest('base64')}`;

t.test('the README snippet from a localhost page: all 50 events written', async (t) => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  t.ok(readme.includes(`integrity="${INTEGRITY}"`), 'the README carries the integrity of the tracker the gateway serves');
  const { gateway, dataDir } = testGateway();
  t.teardown(() => removeDir(dataDir));
  const { port } = await gateway.start();
  const endpoint = `http://localhost:${port}`;
  const browser = await launchChromium(t);
  // The README's two script elements, with its host replaced by the local gateway's.
  const pagePort = await servePages(t, () => `<!doctype html><html><head>
    <script src="${endpoint}/v1/in.js" integrity="${INTEGRITY}" crossorigin="anonymous"></script>
    </head><body><script>
    const tracker = TrackingGateway.create({ endpoint: '${endpoint}/v1/in' });
    for (let i = 0; i < 50; i++) tracker.track('widget', 'impression', { widgetId: 'w-' + i, pageUrl: location.href, placement: 'TOP', position: 0 });
    </script></body></html>`);
  t.not(pagePort, 3000, 'a port other than the one the topic used to name');
  const page = await browser.newPage();
  await page.goto(`http://localhost:${pagePort}/`);
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (metricValue(await gateway.metrics.render(), 'tracking_gateway_events_total', { outcome: 'accepted' }) >= 50) break;
  }
  await page.close();
  await gateway.close();
  const widgets = readGzipLines(`${dataDir}/widget`).map((l) => l.data.widgetId).sort();
  t.same(widgets, Array.from({ length: 50 }, (_, i) => `w-${i}`).sort(), 'all 50 written, each once');
});
