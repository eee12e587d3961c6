import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import t, { type Test } from 'tap';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { FileDestination } from '../../src/destinations/file/file-destination';
import { s3ShippingMetrics } from '../../src/destinations/file/s3-shipping-metrics';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { MovableClock, until } from '../helpers/clock';
import { listFiles, metricValue, removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';
import { S3Proxy } from '../harness/s3-proxy';
import { expectedKey, localPath, testBucket, type TestBucket } from '../helpers/s3';

// Shipping closed minute files to S3 (moto), in one process, with a clock the tests move:
// the layout of keys, the content, the grace, late events, S3 down and the bound on what waits.

const MINUTE = 60_000;
const HOST = 'test-host';
const PREFIX = 'raw/events';
const M = 'tracking_gateway_file_s3_';

function s3Entry(bucket: TestBucket, over: Record<string, unknown> = {}) {
  return { type: 'file', s3: { bucket: bucket.bucket, prefix: PREFIX, endpoint: bucket.endpoint, graceSeconds: 10, hostId: HOST, ...over } };
}

/** Minute files left under `dir`, outside the reserved `_` folders. */
function localMinuteFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => f.endsWith('.ndjson.gz') && !relative(dir, f).startsWith('_'));
}

function lines(gzip: Buffer): any[] {
  return gunzipSync(gzip).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The event as sent, without the envelope's `$` keys: what `data` must hold. */
function payload(event: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([k]) => !k.startsWith('$')));
}

async function startedGateway(t: Test, overrides: Record<string, unknown>) {
  const { gateway, dataDir } = testGateway(overrides);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const post = async (path: string, events: object[]) =>
    (await gateway.publicServer.inject({ method: 'POST', url: path, headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(events) })).statusCode;
  const metrics = async () => gateway.metrics.render();
  return { gateway, dataDir, post, metrics };
}

t.test('closed files of two topics and two minutes ship to their dt=/hour= keys after the grace, byte for byte, and leave the disk', async (t) => {
  const bucket = await testBucket(t);
  const m1 = Math.floor(Date.now() / MINUTE) - 10;
  const clock = new MovableClock(t, m1 * MINUTE + 10_000);
  const { dataDir, post, metrics } = await startedGateway(t, { destinations: { file: s3Entry(bucket) } });

  const sent = new Map<string, Record<string, unknown>[]>();
  /** Which local file each key must come from. */
  const files = new Map<string, string>();
  for (const [minute, tag, at] of [[m1, 'a', m1 * MINUTE + 10_000], [m1 + 1, 'b', (m1 + 1) * MINUTE + 1_000]] as const) {
    clock.jump(at);
    const orders = [1, 2, 3].map((i) => validOrder({ $id: `order-${tag}-${i}`, orderId: `o-${tag}-${i}`, totalCents: 100 * i }));
    const impressions = [1, 2].map((i) => validImpression({ $id: `imp-${tag}-${i}`, widgetId: `w-${tag}-${i}`, position: i }));
    t.equal(await post('/v1/events/shop/order-placed', orders), 200);
    t.equal(await post('/v1/events/widget/impression', impressions), 200);
    for (const [folder, events] of [['shop/order-placed', orders], ['widget/impression', impressions]] as const) {
      sent.set(expectedKey(PREFIX, folder, HOST, minute), events);
      files.set(expectedKey(PREFIX, folder, HOST, minute), localPath(dataDir, folder, minute));
    }
  }
  // A 2xx means fsynced: the four files are whole now; what S3 gets must be these bytes.
  const local = new Map(localMinuteFiles(dataDir).map((f) => [f, readFileSync(f)]));
  t.equal(local.size, 4, 'one file per topic and minute');

  // Within the second minute's grace, no pass ships anything: the first minute ended under 10 s ago.
  await new Promise((r) => setTimeout(r, 2_500));
  t.equal((await bucket.objects()).size, 0, 'nothing ships before its minute + grace');
  t.equal(localMinuteFiles(dataDir).length, 4);

  clock.jump((m1 + 2) * MINUTE + 11_000);
  await until(async () => localMinuteFiles(dataDir).length === 0, 'every closed file shipped and deleted');
  const objects = await bucket.objects();
  t.same([...objects.keys()].sort(), [...sent.keys()].sort(), 'exactly the expected keys');
  for (const [key, events] of sent) {
    const got = lines(objects.get(key)!);
    t.equal(got.length, events.length, `${key}: every line`);
    events.forEach((event, i) => {
      t.equal(got[i].id, event.$id, `${key}: line ${i} is event ${event.$id}`);
      for (const [field, value] of Object.entries(payload(event))) t.same(got[i].data[field], value, `${key}: ${event.$id}.${field}`);
    });
  }
  for (const [key, path] of files) t.ok(objects.get(key)?.equals(local.get(path)!), `${key} holds the bytes of ${path}`);
  const text = await metrics();
  t.equal(metricValue(text, `${M}uploads_total`, { outcome: 'uploaded' }), 4);
  t.equal(metricValue(text, `${M}uploaded_bytes_total`), [...local.values()].reduce((n, b) => n + b.length, 0));
  t.equal(metricValue(text, `${M}upload_lag_seconds_count`), 4);
  t.equal(metricValue(text, `${M}pending_files`), 0);
  t.equal(metricValue(text, `${M}pending_bytes`), 0);
});

t.test('files a previous process left are shipped when the next one starts', async (t) => {
  const bucket = await testBucket(t);
  const m1 = Math.floor(Date.now() / MINUTE) - 20;
  const clock = new MovableClock(t, m1 * MINUTE + 5_000);
  const dataDir = tempDir();
  t.teardown(() => removeDir(dataDir));
  const first = testGateway({ dataDir, destinations: { file: s3Entry(bucket) } });
  await first.gateway.start();
  const orders = [1, 2].map((i) => validOrder({ $id: `left-${i}`, orderId: `left-${i}` }));
  t.equal((await first.gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(orders) })).statusCode, 200);
  // Stops inside the minute: its file is not closed yet, so it stays on disk.
  await first.gateway.close();
  removeDir(first.dataDir);
  const [left] = localMinuteFiles(dataDir);
  const bytes = readFileSync(left);

  clock.jump((m1 + 5) * MINUTE);
  await startedGateway(t, { dataDir, destinations: { file: s3Entry(bucket) } });
  await until(async () => localMinuteFiles(dataDir).length === 0, 'the file left on disk shipped');
  const objects = await bucket.objects();
  t.same([...objects.keys()], [expectedKey(PREFIX, 'shop/order-placed', HOST, m1)]);
  t.ok([...objects.values()][0].equals(bytes), 'the same bytes');
  t.same(lines([...objects.values()][0]).map((l) => l.id), ['left-1', 'left-2']);
});

t.test('a late event for a shipped minute goes to a late file and key of its own; the first object is unchanged; keepMinutes keeps, then deletes', async (t) => {
  const bucket = await testBucket(t);
  const m1 = Math.floor(Date.now() / MINUTE) - 30;
  const clock = new MovableClock(t, m1 * MINUTE + 5_000);
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const metrics = new GatewayMetrics();
  const settings = { bucket: bucket.bucket, prefix: '', endpoint: bucket.endpoint, forcePathStyle: true, hostId: HOST, graceSeconds: 10, keepMinutes: 2, maxPendingBytes: 1 << 30, requestTimeoutMs: 30_000 };
  const destination = new FileDestination('file', dir, metrics, pino({ level: 'silent' }), { settings, metrics: s3ShippingMetrics(metrics.registry) });
  await destination.start();
  t.teardown(() => destination.close());
  const order = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!.versions.get(1)!;
  const event = (id: string, receivedAt: number): GatewayEvent => ({ id, schema: order, source: 'test', receivedAt, data: validOrder({ orderId: id }), size: 200 });

  t.same(await destination.send([event('on-time', m1 * MINUTE + 5_000)]), []);
  clock.jump((m1 + 1) * MINUTE + 11_000);
  const firstKey = expectedKey('', 'shop/order-placed', HOST, m1);
  await until(async () => (await bucket.objects()).has(firstKey), 'the minute shipped');
  const first = (await bucket.objects()).get(firstKey)!;
  const kept = join(dir, '_s3-shipped', 'shop', 'order-placed');
  t.equal(listFiles(kept).length, 1, 'the shipped file is kept aside');

  // Replayed from the spool, say: received in m1, written now, two minutes later.
  const lateMinute = m1 + 2;
  clock.jump(lateMinute * MINUTE + 1_000);
  t.same(await destination.send([event('late', m1 * MINUTE + 30_000)]), []);
  const [lateFile] = localMinuteFiles(dir);
  t.match(relative(dir, lateFile), /^shop\/order-placed\/\d{4}-\d{2}-\d{2}\/\d{2}-\d{2}\.\d{8}T\d{4}Z\.ndjson\.gz$/, 'a late file of its own');
  clock.jump((lateMinute + 1) * MINUTE + 11_000);
  const lateKey = expectedKey('', 'shop/order-placed', HOST, m1, lateMinute);
  await until(async () => (await bucket.objects()).has(lateKey), 'the late file shipped');
  const objects = await bucket.objects();
  t.same([...objects.keys()].sort(), [firstKey, lateKey].sort(), 'two objects: the minute and its late file');
  t.ok(objects.get(firstKey)!.equals(first), 'the first object is unchanged');
  t.same(lines(objects.get(firstKey)!).map((l) => l.id), ['on-time']);
  t.same(lines(objects.get(lateKey)!).map((l) => l.id), ['late']);
  t.equal(listFiles(kept).length, 2, 'both kept for keepMinutes');

  // keepMinutes (2) after the first upload, the kept files go; the next sweep is a minute later.
  clock.jump((lateMinute + 5) * MINUTE);
  await until(() => listFiles(kept).length === 0, 'kept files deleted after keepMinutes');
  t.notOk(existsSync(lateFile));
});

t.test('S3 down: files wait, failures are counted and retried with backoff; over maxPendingBytes events go to the spool; S3 back: all shipped, nothing lost', async (t) => {
  const bucket = await testBucket(t);
  const proxy = await S3Proxy.start(bucket.endpoint, 'fail');
  t.teardown(() => proxy.stop());
  const m1 = Math.floor(Date.now() / MINUTE) - 40;
  const clock = new MovableClock(t, m1 * MINUTE + 5_000);
  const { dataDir, post, metrics } = await startedGateway(t, { destinations: { file: s3Entry(bucket, { endpoint: proxy.endpoint, forcePathStyle: true, maxPendingBytes: 1 }) } });

  const before = [1, 2, 3].map((i) => validOrder({ $id: `before-${i}`, orderId: `before-${i}` }));
  t.equal(await post('/v1/events/shop/order-placed', before), 200);
  clock.jump((m1 + 1) * MINUTE + 11_000);
  await until(async () => metricValue(await metrics(), `${M}upload_failures_total`, { reason: 'server_error' }) >= 3, 'three failed tries', 60_000);
  let text = await metrics();
  t.equal(metricValue(text, `${M}pending_files`), 1, 'the closed file waits');
  const [waiting] = localMinuteFiles(dataDir);
  t.equal(metricValue(text, `${M}pending_bytes`), readFileSync(waiting).length);
  t.ok(metricValue(text, 'tracking_gateway_background_errors_total', { task: 'file_s3_shipping' }) >= 3, 'each failed pass counted');
  t.equal(metricValue(text, `${M}uploads_total`, { outcome: 'failed' }), metricValue(text, `${M}upload_failures_total`));
  t.ok(proxy.puts >= 3, 'tried again');

  // The waiting file is over maxPendingBytes: new events are refused by the file destination
  // and land in the spool (still a 2xx: fsynced there).
  const during = [1, 2].map((i) => validOrder({ $id: `during-${i}`, orderId: `during-${i}` }));
  t.equal(await post('/v1/events/shop/order-placed', during), 200);
  text = await metrics();
  // The first refusal marks the destination down; the router then skips it for the rest.
  t.ok(metricValue(text, `${M}refused_events_total`) >= 1, 'refusals counted');
  t.equal(metricValue(text, 'tracking_gateway_spool_records'), 2, 'both events in the spool');
  t.equal(localMinuteFiles(dataDir).length, 1, 'nothing was appended to a minute file');

  proxy.mode = 'forward';
  await until(async () => (await bucket.objects()).has(expectedKey(PREFIX, 'shop/order-placed', HOST, m1)), 'shipped once S3 is back', 60_000);
  // The spool replays to the file destination once it takes events again.
  await until(async () => metricValue(await metrics(), 'tracking_gateway_spool_records') === 0, 'the spooled events replayed', 60_000);
  t.ok(existsSync(localPath(dataDir, 'shop/order-placed', m1 + 1)), 'into the file of their receive minute');
  clock.jump((m1 + 2) * MINUTE + 11_000);
  await until(async () => (await bucket.objects()).size === 2 && localMinuteFiles(dataDir).length === 0, 'the second minute shipped', 60_000);
  const ids = [...(await bucket.objects()).values()].flatMap((o) => lines(o).map((l) => l.id as string)).sort();
  t.same(ids, [...before, ...during].map((e) => (e as Record<string, unknown>).$id as string).sort(), 'every event exactly once');
  text = await metrics();
  t.equal(metricValue(text, `${M}pending_bytes`), 0);
});
