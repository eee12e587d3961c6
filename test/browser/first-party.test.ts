import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '../../load-tests/gateway-process';
import { ensureNginx, startNginx } from '../../load-tests/nginx';
import { TRACKER_FILE } from '../../src/http/routes/tracker';
import { launchChromium, servePages } from '../harness/chromium';
import { gatewayAllowing, metricValue, PROJECT_ROOT, readGzipLines } from '../helpers/gateway';

// docs/first-party.md as written: its NGINX `location` in a real NGINX, in front of the site's
// own pages and a gateway. A page loads the tracker from its own origin (/v1/in.js) and sends
// to /v1/in: every request is same-origin, and every event arrives once.

t.setTimeout(300_000);

/** The documented `location` block, its upstream pointed at `gatewayPort`. */
function documentedLocation(gatewayPort: number): string {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'first-party.md'), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block?.includes('proxy_pass http://127.0.0.1:8080;')) throw new Error('docs/first-party.md: no nginx block proxying to 127.0.0.1:8080');
  return block.replace('127.0.0.1:8080', `127.0.0.1:${gatewayPort}`);
}

t.test('the documented NGINX location serves the tracker and its beacons first-party', async (t) => {
  const nginxBinary = ensureNginx();
  if (!nginxBinary) {
    t.fail('nginx could not be installed (scripts/ensure-nginx.sh)');
    return;
  }
  const integrity = `sha384-${createHash('sha384').update(readFileSync(TRACKER_FILE)).digest('base64')}`;
  // The site's own pages, behind the same NGINX as the gateway.
  const pagePort = await servePages(t, (request) =>
    request.url === '/next'
      ? '<!doctype html><p>next</p>'
      : `<!doctype html><script src="/v1/in.js" integrity="${integrity}" crossorigin="anonymous"></script><script>
          const tracker = TrackingGateway.create({ endpoint: '/v1/in' });
          for (let i = 0; i < 25; i++) tracker.track('widget', 'impression', { widgetId: 'first-party-' + i, pageUrl: location.href, placement: 'INLINE', position: i });
          location.href = '/next';
        </script>`,
  );
  // NGINX needs the gateway's port and the gateway needs NGINX's origin: the port comes first.
  const gatewayPort = await freePort();
  const nginx = await startNginx(nginxBinary, `location / { proxy_pass http://127.0.0.1:${pagePort}; }\n    ${documentedLocation(gatewayPort)}`);
  t.teardown(() => nginx.stop());
  const site = nginx.baseUrl;
  const { gateway, dataDir } = await gatewayAllowing(t, site, { port: gatewayPort, trustProxy: true });
  const fetchSites: string[] = [];
  gateway.publicServer.server.on('request', (request: IncomingMessage) => fetchSites.push(`${request.method} ${request.url?.split('?')[0]} ${request.headers['sec-fetch-site']}`));

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`${site}/article`);
  await page.waitForURL(`${site}/next`);
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (metricValue(await gateway.metrics.render(), 'tracking_gateway_events_total', { outcome: 'accepted' }) >= 25) break;
  }
  await gateway.close();
  const widgets = readGzipLines(`${dataDir}/widget`).map((line) => line.data.widgetId);
  t.same(widgets.sort(), Array.from({ length: 25 }, (_, i) => `first-party-${i}`).sort(), 'every event through NGINX, each once');
  t.ok(fetchSites.includes('GET /v1/in.js same-origin'), 'the tracker loaded from the page\'s own origin, its integrity checked');
  const beacons = fetchSites.filter((line) => line.startsWith('POST'));
  t.ok(beacons.length >= 2, `${beacons.length} beacon requests`);
  t.ok(beacons.every((line) => line === 'POST /v1/in/widget/impression same-origin'), 'every beacon same-origin, to the alias');
});
