import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { FileDestination } from '../../src/destinations/file/file-destination';
import { s3ShippingMetrics } from '../../src/destinations/file/s3-shipping-metrics';
import type { S3Shipping } from '../../src/destinations/file/s3-shipping-config';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { until } from '../helpers/clock';
import { listFiles, metricValue, removeDir, tempDir, TOPICS_DIR, validOrder } from '../helpers/gateway';
import { freePort } from '../helpers/process';
import { expectedKey, testBucket } from '../helpers/s3';
import { S3Proxy } from '../harness/s3-proxy';

// What goes wrong on the way to S3 is named by a bounded reason, counted, and never costs the
// file: a corrupted upload is refused by S3 (Content-MD5), a missing bucket and an endpoint
// that refuses connections are told apart; each time the file stays and is shipped later.

const MINUTE = 60_000;
const HOST = 'failures-host';
const order = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!.versions.get(1)!;

/** A file destination whose one minute file (ten minutes old, so closed) waits to be shipped. */
async function destinationWithClosedFile(t: Test, settings: Partial<S3Shipping> & { bucket: string; endpoint: string }) {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const metrics = new GatewayMetrics();
  const full: S3Shipping = { prefix: '', forcePathStyle: true, hostId: HOST, graceSeconds: 1, keepMinutes: 0, maxPendingBytes: 1 << 30, requestTimeoutMs: 5_000, ...settings };
  const minute = Math.floor(Date.now() / MINUTE) - 10;
  const events: GatewayEvent[] = [1, 2, 3].map((i) => ({ id: `f-${i}`, schema: order, source: 'test', receivedAt: minute * MINUTE + i, data: validOrder({ orderId: `f-${i}` }), size: 200 }));
  // Written by an earlier process without shipping (one with it would put lines of a minute
  // that long over into a late file).
  const writer = new FileDestination('file', dir, metrics, pino({ level: 'silent' }));
  t.same(await writer.send(events), []);
  await writer.close();
  const [file] = listFiles(dir);
  const bytes = readFileSync(file);
  const destination = new FileDestination('file', dir, metrics, pino({ level: 'silent' }), { settings: full, metrics: s3ShippingMetrics(metrics.registry) });
  await destination.start();
  t.teardown(() => destination.close());
  const failures = async (reason: string) => metricValue(await metrics.render(), 'tracking_gateway_file_s3_upload_failures_total', { reason });
  return { dir, file, bytes, minute, metrics, failures };
}

t.test('a corrupted upload is caught (Content-MD5; moto does not check it, so its ETag): counted as bad_digest, the file stays, and ships whole later', async (t) => {
  const bucket = await testBucket(t);
  const proxy = await S3Proxy.start(bucket.endpoint, 'corrupt-puts');
  t.teardown(() => proxy.stop());
  const { dir, file, bytes, minute, failures } = await destinationWithClosedFile(t, { bucket: bucket.bucket, endpoint: proxy.endpoint });
  await until(async () => (await failures('bad_digest')) >= 1, 'a refused upload');
  t.same(listFiles(dir), [file], 'the file stays');
  proxy.mode = 'forward';
  await until(() => listFiles(dir).length === 0, 'shipped once uploads arrive whole', 60_000);
  const objects = await bucket.objects();
  t.same([...objects.keys()], [expectedKey('', 'shop/order-placed', HOST, minute)]);
  t.ok([...objects.values()][0].equals(bytes), `${relative(dir, file)} in S3 byte for byte`);
});

t.test('a missing bucket and an endpoint that refuses connections are told apart; the file waits', async (t) => {
  const bucket = await testBucket(t);
  const missing = await destinationWithClosedFile(t, { bucket: `${bucket.bucket}-missing`, endpoint: bucket.endpoint });
  await until(async () => (await missing.failures('no_bucket')) >= 1, 'no_bucket counted');
  t.same(listFiles(missing.dir), [missing.file]);

  const refused = await destinationWithClosedFile(t, { bucket: bucket.bucket, endpoint: `http://127.0.0.1:${await freePort()}` });
  await until(async () => (await refused.failures('network')) >= 1, 'network counted');
  t.same(listFiles(refused.dir), [refused.file]);
  const text = await refused.metrics.render();
  t.equal(metricValue(text, 'tracking_gateway_file_s3_pending_files'), 1);
  t.equal(metricValue(text, 'tracking_gateway_file_s3_pending_bytes'), refused.bytes.length);
  t.ok(metricValue(text, 'tracking_gateway_background_errors_total', { task: 'file_s3_shipping' }) >= 1);
  t.equal((await bucket.objects()).size, 0);
});

t.test('s3.requestTimeoutMs: an S3 that stores the upload but never answers costs one timeout, counted; the file stays and ships once, to the same key', async (t) => {
  const bucket = await testBucket(t);
  const proxy = await S3Proxy.start(bucket.endpoint, 'hold-puts');
  t.teardown(() => proxy.stop());
  const started = Date.now();
  const { dir, file, bytes, minute, failures } = await destinationWithClosedFile(t, { bucket: bucket.bucket, endpoint: proxy.endpoint, requestTimeoutMs: 1_000 });
  await until(async () => (await failures('timeout')) >= 1, 'the held upload times out');
  t.ok(Date.now() - started < 15_000, `timed out after the bound, not the SDK's default (${Date.now() - started} ms)`);
  t.same(listFiles(dir), [file], 'an unanswered upload keeps the file');
  proxy.mode = 'forward';
  await until(() => listFiles(dir).length === 0, 'shipped once S3 answers', 60_000);
  const objects = await bucket.objects();
  t.same([...objects.keys()], [expectedKey('', 'shop/order-placed', HOST, minute)], 'one object, the same key');
  t.ok([...objects.values()][0].equals(bytes), 'byte for byte');
});
