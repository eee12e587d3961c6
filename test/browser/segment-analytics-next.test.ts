import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import t from 'tap';
import { Gateway } from '../../src/gateway';
import { buildConfig } from '../../src/config/config';
import { launchChromium, servePages } from '../harness/chromium';
import { metricValue, PROJECT_ROOT, readGzipLines, removeDir, tempDir, TOPICS_DIR } from '../helpers/gateway';

// @segment/analytics-next from npm, bundled here with esbuild, in real Chromium: a page on one
// origin loads it with the gateway (another origin) as its cdnURL, so it reads its settings
// document from the gateway and sends its calls there. Each call arrives typed by its topic.

t.setTimeout(240_000);

const WRITE_KEY = 'example-write-key';

/** analytics-next as one browser script that sets `window.SegmentAnalytics`. */
async function bundleAnalyticsNext(): Promise<string> {
  const result = await build({
    stdin: { contents: "export { AnalyticsBrowser } from '@segment/analytics-next';", resolveDir: PROJECT_ROOT, loader: 'js' },
    bundle: true,
    format: 'iife',
    globalName: 'SegmentAnalytics',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

for (const delivery of ['standard', 'batching'] as const) {
  t.test(`analytics-next (${delivery} delivery): track and page calls from a page on another origin arrive typed, each once`, async (t) => {
    const script = await bundleAnalyticsNext();
    let gatewayBase = '';
    // Batching: the calls go together to /v1/b; standard: one request each to /v1/t, /v1/p.
    const options = delivery === 'batching' ? { integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 4, timeout: 300 } } } } } : {};
    const pagePort = await servePages(t, (request) => {
      if (request.url === '/analytics.js') return script;
      return `<!doctype html><html><head><script src="/analytics.js"></script></head><body><script>
        const analytics = SegmentAnalytics.AnalyticsBrowser.load({ writeKey: ${JSON.stringify(WRITE_KEY)}, cdnURL: ${JSON.stringify(gatewayBase)} }, ${JSON.stringify(options)});
        window.analytics = analytics;
      </script></body></html>`;
    });
    const pageOrigin = `http://localhost:${pagePort}`;

    const topicsDir = tempDir();
    cpSync(TOPICS_DIR, topicsDir, { recursive: true });
    writeFileSync(join(topicsDir, 'widget/impression/topic.yaml'), `access: public\nallowedOrigins: ["${pageOrigin}"]\ndefaultVersion: 2\npartitionKey: widgetId\nmaxEventBytes: 8192\nsegment:\n  track: Widget Impression\n`);
    writeFileSync(join(topicsDir, 'segment/page/topic.yaml'), `access: public\nallowedOrigins: ["${pageOrigin}"]\npublishableKeys: [${WRITE_KEY}]\ndefaultVersion: 1\nsegment:\n  page: true\n`);
    const dataDir = tempDir();
    const gateway = new Gateway(
      buildConfig({ topicsDir, dataDir, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 }, segment: { calls: ['track', 'page'] } }, {}),
    );
    const { port } = await gateway.start();
    let closed = false;
    t.teardown(async () => {
      if (!closed) await gateway.close();
      removeDir(dataDir);
      removeDir(topicsDir);
    });
    gatewayBase = `http://127.0.0.1:${port}`;

    const browser = await launchChromium(t);
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${pageOrigin}/`);
    const outcomes = await page.evaluate(async () => {
      const analytics = (globalThis as any).analytics;
      const impression = (i: number) => ({ widgetId: `ajs-${i}`, pageUrl: (globalThis as any).location.href as string, placement: 'SIDEBAR', position: i, visibleMs: 1200 });
      const calls = [];
      for (let i = 0; i < 5; i++) calls.push(analytics.track('Widget Impression', impression(i)));
      // Typed: a property of the wrong type is refused by the gateway (and dead-lettered), not stored.
      calls.push(analytics.track('Widget Impression', { ...impression(99), position: 'first' }));
      calls.push(analytics.page('Docs', 'Getting started'));
      const contexts = await Promise.all(calls);
      return contexts.map((ctx: any) => ctx.event.messageId as string);
    });
    t.equal(outcomes.length, 7);
    t.ok(requests.some((u) => u === `${gatewayBase}/v1/projects/${WRITE_KEY}/settings`), 'the settings document came from the gateway');
    t.notOk(requests.some((u) => /segment\.(io|com)/.test(u)), 'nothing went to Segment');
    const posted = requests.filter((u) => u.startsWith(`${gatewayBase}/v1/`) && !u.includes('/projects/')).map((u) => u.slice(gatewayBase.length));
    if (delivery === 'batching') t.ok(posted.length > 0 && posted.every((u) => u === '/v1/b'), `batches to /v1/b (${posted.join(', ')})`);
    else t.ok(posted.includes('/v1/t') && posted.includes('/v1/p'), `one call a request to /v1/t and /v1/p (${[...new Set(posted)].join(', ')})`);

    for (const until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      if (metricValue(await gateway.metrics.render(), 'tracking_gateway_segment_calls_total', {}) >= 7) break;
    }
    closed = true;
    await gateway.close();
    const lines = readGzipLines(dataDir);
    const impressions = lines.filter((l) => l.type === 'widget.impression');
    t.same(impressions.map((l) => l.data.widgetId).sort(), ['ajs-0', 'ajs-1', 'ajs-2', 'ajs-3', 'ajs-4'], 'each valid track once');
    t.same(impressions.map((l) => l.id).sort(), outcomes.slice(0, 5).sort(), "analytics-next's messageId is each event's id");
    t.match(impressions.find((l) => l.data.widgetId === 'ajs-2').data, { placement: 'SIDEBAR', position: 2, visibleMs: 1200, aboveFold: null });
    const pages = lines.filter((l) => l.type === 'segment.page');
    t.equal(pages.length, 1);
    t.match(pages[0].data, { name: 'Getting started', category: 'Docs', context: { page: { url: `${pageOrigin}/` } } });
    t.match(JSON.parse(pages[0].data.properties), { url: `${pageOrigin}/`, path: '/' });
    const dead = readGzipLines(join(dataDir, '_dead-letter'));
    t.equal(dead.length, 1, 'the mistyped call dead-lettered with its reason');
    t.match(dead[0], { service: 'widget', topic: 'impression', errors: [{ path: 'position' }] });
  });
}
