import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { buildConfig } from '../../src/config/config';
import { Gateway } from '../../src/gateway';
import { launchChromium } from '../harness/chromium';
import { cacheRoot } from '../harness/cache-dir';
import { metricValue, readGzipLines, removeDir, SERVICE_AUTH, TEST_SERVICE_KEY, tempDir, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';
import { addTopicVersion } from '../helpers/topics-tree';

// The inspector in a real browser: Chromium opens /inspect on the admin port, sees a pixel
// and a batch arrive within a second, sees a refusal's field paths, and re-drives a dead
// letter from the page once its topic's schema is fixed.

t.setTimeout(180_000);

/** The page's, in functions that run in the browser. */
declare const document: any;

const ORIGIN = 'http://localhost:3000';
const SCREENSHOTS = join(cacheRoot(), 'screenshots');

/** A gateway on `topicsDir` and `dataDir`, started, closed when the test ends (or before). */
async function startGateway(t: Test, topicsDir: string, dataDir: string) {
  const config = buildConfig(
    {
      topicsDir,
      dataDir,
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 },
      auth: { keys: [{ key: TEST_SERVICE_KEY, scopes: ['*'] }] },
      envelope: { clientIp: 'anonymized', userAgent: true },
    },
    {},
  );
  const gateway = new Gateway(config);
  const { port, adminPort } = await gateway.start();
  t.teardown(() => gateway.close());
  return { gateway, url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` };
}

async function openInspector(page: Page, admin: string): Promise<void> {
  await page.goto(`${admin}/inspect`);
  await page.waitForSelector('#connection.on', { timeout: 5_000 });
  await page.waitForSelector('.topic[data-topic="widget/impression"]', { timeout: 5_000 });
}

const pixelQuery = (over: Record<string, string>) => new URLSearchParams({ widgetId: 'w-pixel', pageUrl: 'https://publisher.example/a', placement: 'TOP', position: '3', ...over });

t.test('the page shows a pixel and a batch within a second, and a refusal with its field paths', async (t) => {
  const topicsDir = tempDir();
  const dataDir = tempDir();
  t.teardown(() => (removeDir(topicsDir), removeDir(dataDir)));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  const { url, admin } = await startGateway(t, topicsDir, dataDir);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  await openInspector(page, admin);

  const pixel = await fetch(`${url}/v1/beacon/widget/impression?${pixelQuery({ $id: 'pixel-1' })}`, { headers: { origin: ORIGIN, 'user-agent': 'inspector-test' } });
  t.equal(pixel.status, 200, 'the pixel is answered');
  const batch = await fetch(`${url}/v1/events/shop/order-placed`, {
    method: 'POST',
    headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
    body: JSON.stringify([validOrder({ $id: 'order-a', orderId: 'o-a' }), validOrder({ $id: 'order-b', orderId: 'o-b' })]),
  });
  t.equal(batch.status, 200, 'the batch is accepted');
  const sentAt = Date.now();
  await page.waitForFunction(() => ['pixel-1', 'order-a', 'order-b'].every((id) => document.querySelector(`.event[data-id="${id}"]`)), undefined, { timeout: 1_000 });
  t.ok(Date.now() - sentAt <= 1_000, `the pixel and the batch show within a second (${Date.now() - sentAt} ms)`);

  // An accepted event shows its envelope, with the address as the envelope keeps it.
  const pixelText = await page.locator('.event[data-id="pixel-1"]').innerText();
  t.match(pixelText, /widget\/impression/);
  await page.locator('.event[data-id="pixel-1"] .row').click();
  const details = await page.locator('.event[data-id="pixel-1"] .details').innerText();
  t.match(details, /"clientip": "127\.0\.0\.0"/, 'the client IP shows anonymised, as the envelope stores it');
  t.match(details, /"widgetId": "w-pixel"/, 'the data shows');
  t.notMatch(await page.content(), new RegExp(TEST_SERVICE_KEY), 'no key reaches the page');

  // Refusals: a service batch (422) and a beacon (answered, dead-lettered).
  const refused = await fetch(`${url}/v1/events/shop/order-placed`, {
    method: 'POST',
    headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
    body: JSON.stringify([validOrder({ items: [{ sku: 'SKU-1', quantity: 'two', unitPriceCents: 1500 }] })]),
  });
  t.equal(refused.status, 422, 'the invalid batch is refused');
  const beacon = await fetch(`${url}/v1/beacon/widget/impression`, {
    method: 'POST',
    headers: { origin: ORIGIN, 'content-type': 'text/plain' },
    body: JSON.stringify(validImpression({ widgetId: 'w-bad', placement: 'OVERLAY', position: 'first' })),
  });
  t.ok(beacon.status < 300, 'the invalid beacon is answered as always');
  await page.waitForFunction(() => document.querySelectorAll('.event[data-outcome="invalid"]').length >= 2, undefined, { timeout: 1_000 });
  const paths = await page.locator('.event[data-outcome="invalid"] .errors code').allInnerTexts();
  t.ok(paths.includes('items[0].quantity'), `the batch's field path shows (${paths.join(', ')})`);
  t.ok(paths.includes('placement') && paths.includes('position'), 'every problem of the beacon shows with its path');

  // Filters: by outcome and by text.
  await page.selectOption('#f-outcome', 'refused');
  t.equal(await page.locator('.event[data-outcome="accepted"]').count(), 0, 'the outcome filter hides accepted events');
  await page.selectOption('#f-outcome', '');
  await page.fill('#f-text', 'order-b');
  t.equal(await page.locator('#events .event').count(), 1, 'the text search finds the one event');
  await page.fill('#f-text', '');

  // The per-topic view and the dead letter, then the picture for the docs.
  await page.waitForSelector('#dead-letters .dead-letter', { timeout: 7_000 });
  t.match(await page.locator('.topic[data-topic="shop/order-placed"] .chain').innerText(), /file[\s\S]*→[\s\S]*spool/, 'the route shows as its chain');
  await page.locator('.event[data-id="pixel-1"] .row').click();
  await page.locator('.event[data-outcome="invalid"] .row').first().click();
  // A few seconds of steady traffic, so that the picture shows rates and shares.
  for (let i = 0; i < 12; i++) {
    const placement = ['TOP', 'SIDEBAR', 'INLINE', i === 7 ? 'POPUP' : 'FOOTER'][i % 4];
    await fetch(`${url}/v1/beacon/widget/impression?${pixelQuery({ widgetId: `w-${i}`, position: String(i), placement })}`, { headers: { origin: ORIGIN } });
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  const shot = join(SCREENSHOTS, 'inspector.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.pass(`screenshot at ${shot}`);

  // What a client sends is hostile: shown as text, never as markup.
  await fetch(`${url}/v1/beacon/widget/impression?${pixelQuery({ widgetId: '<img id="injected" src="x">', $id: 'markup-1' })}`, { headers: { origin: ORIGIN } });
  await page.waitForSelector('.event[data-id="markup-1"]', { timeout: 1_000 });
  t.equal(await page.locator('#injected').count(), 0, 'no element of the client’s making is in the page');
  t.match(await page.locator('.event[data-id="markup-1"]').innerText(), /<img id="injected"/, 'its text is');

  const publicAnswer = await fetch(`${url}/inspect`);
  t.equal(publicAnswer.status, 404, 'the public port has no inspector');
  t.equal((await fetch(`${url}/inspect/stream`)).status, 404, 'nor its stream');
});

t.test('a dead letter re-driven from the page after its schema is fixed is delivered, once', async (t) => {
  const topicsDir = tempDir();
  const dataDir = tempDir();
  t.teardown(() => (removeDir(topicsDir), removeDir(dataDir)));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });

  // Today's schema knows no OVERLAY placement: the beacon is dead-lettered; so is one that no fix helps.
  const first = await startGateway(t, topicsDir, dataDir);
  for (const event of [validImpression({ $id: 'fixable-1', widgetId: 'w-overlay', placement: 'OVERLAY' }), validImpression({ $id: 'broken-1', widgetId: 'w-broken', position: 'first' })]) {
    const answer = await fetch(`${first.url}/v1/beacon/widget/impression`, { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'text/plain' }, body: JSON.stringify(event) });
    t.ok(answer.status < 300, 'the beacon is answered');
  }
  await first.gateway.close();

  // The fix: v3 adds the symbol and becomes the default.
  const dir = join(topicsDir, 'widget', 'impression');
  const v2 = JSON.parse(readFileSync(join(dir, 'v2.avsc'), 'utf8'));
  v2.fields.find((f: { name: string }) => f.name === 'placement').type.symbols.push('OVERLAY');
  addTopicVersion(dir, 3, v2);
  writeFileSync(join(dir, 'topic.yaml'), `access: public\nallowedOrigins: ["${ORIGIN}"]\ndefaultVersion: 3\npartitionKey: widgetId\nmaxEventBytes: 8192\n`);

  const second = await startGateway(t, topicsDir, dataDir);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  await openInspector(page, second.admin);
  await page.waitForFunction(() => document.querySelectorAll('#dead-letters .dead-letter').length === 2, undefined, { timeout: 7_000 });
  t.match(await page.locator('#dead-letters').innerText(), /placement/, 'the dead letter shows the reason');

  await page.click('#dl-dry-run');
  await page.waitForSelector('#dl-result:not([hidden])');
  t.match(await page.locator('#dl-result').innerText(), /1 accepted, 1 invalid/, 'the dry run says what would pass');
  await page.click('#dl-redrive');
  await page.waitForSelector('#dl-confirm:not([hidden])');
  t.match(await page.locator('#dl-confirm-text').innerText(), /2 entries/, 'the page asks before it re-drives');
  await page.click('#dl-confirm-yes');
  await page.waitForFunction(() => /Re-drive: /.test(document.querySelector('#dl-result').textContent ?? ''), undefined, { timeout: 15_000 });
  t.match(await page.locator('#dl-result').innerText(), /1 accepted, 1 invalid/, 'one is delivered, one still fails');
  await page.waitForFunction(() => document.querySelectorAll('#dead-letters .dead-letter').length === 1, undefined, { timeout: 7_000 });
  t.match(await page.locator('#dead-letters').innerText(), /w-broken|position/, 'what still fails stays, once');
  await page.waitForSelector('.event[data-id="fixable-1"]', { timeout: 2_000 });
  t.match(await page.locator('.event[data-id="fixable-1"]').innerText(), /v3/, 'the re-driven event shows in the live stream, in its new version');
  await page.screenshot({ path: join(SCREENSHOTS, 'inspector-redrive.png'), fullPage: true });
  const metrics = await second.gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_dead_letter_replayed_total', { outcome: 'accepted' }), 1, 'counted as accepted');
  t.equal(metricValue(metrics, 'tracking_gateway_dead_letter_replayed_total', { outcome: 'invalid' }), 1, 'counted as invalid');
  await second.gateway.close();

  const delivered = readGzipLines(join(dataDir)).filter((line) => line.specversion === '1.0' && line.data?.widgetId === 'w-overlay');
  t.equal(delivered.length, 1, 'the fixed event is delivered once');
  t.equal(delivered[0].id, 'fixable-1', 'with its $id');
  t.match(delivered[0].dataschema, /versions\/3$/, "validated against today's schema");

  // A restart compacts what was re-driven; the one that still fails is listed once.
  const third = await startGateway(t, topicsDir, dataDir);
  const listing = (await (await fetch(`${third.admin}/inspect/dead-letter`)).json()) as { entries: { payload: { $id: string } }[] };
  t.same(listing.entries.map((e: { payload: { $id: string } }) => e.payload.$id), ['broken-1'], 'the dead letter holds the failing entry once');
});
