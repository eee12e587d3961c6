import { once } from 'node:events';
import pino from 'pino';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { FileDestination } from '../../src/destinations/file/file-destination';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { MovableClock, until } from '../helpers/clock';
import { listFiles, metricValue, removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';
import { startServe } from '../helpers/process';
import { expectedKey, localPath, testBucket } from '../helpers/s3';
import { S3Proxy } from '../harness/s3-proxy';

// Shipping minute files from `serve` processes. kill -9 between upload and delete: S3 has the
// object, the local file is still there; the next process ships the file again, to the same
// key with the same bytes: one object per minute file, nothing lost, nothing under another
// key. And workers: each ships its own folder under its own host id.

const MINUTE = 60_000;

function localMinuteFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => f.endsWith('.ndjson.gz') && !relative(dir, f).startsWith('_'));
}

t.test('a gateway killed after S3 stored a file but before it deleted it ships it again to the same key on restart; exactly one object per file', async (t) => {
  const bucket = await testBucket(t);
  const dir = tempDir();
  t.teardown(() => removeDir(dir));

  // Files of two topics and two minutes, written by a gateway of an earlier run (no shipping).
  const m1 = Math.floor(Date.now() / MINUTE) - 15;
  const clock = new MovableClock(t, m1 * MINUTE + 5_000);
  const writer = testGateway({ dataDir: dir });
  await writer.gateway.start();
  const keys = new Map<string, string>();
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
  for (const minute of [m1, m1 + 1]) {
    clock.jump(minute * MINUTE + 5_000);
    const post = async (path: string, events: object[]) =>
      (await writer.gateway.publicServer.inject({ method: 'POST', url: path, headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(events) })).statusCode;
    t.equal(await post('/v1/events/shop/order-placed', [1, 2].map((i) => validOrder({ $id: `o-${minute}-${i}`, orderId: `o-${i}` }))), 200);
    t.equal(await post('/v1/events/widget/impression', [1, 2].map((i) => validImpression({ $id: `i-${minute}-${i}` }))), 200);
    for (const folder of ['shop/order-placed', 'widget/impression']) keys.set(expectedKey('', folder, host, minute), localPath(dir, folder, minute));
  }
  await writer.gateway.close();
  removeDir(writer.dataDir);
  clock.restore();
  const bytes = new Map(localMinuteFiles(dir).map((f) => [f, readFileSync(f)]));
  t.equal(bytes.size, 4, 'four minute files on disk');

  // The first process: S3 stores its first upload, but the answer never comes back.
  const proxy = await S3Proxy.start(bucket.endpoint, 'hold-puts');
  t.teardown(() => proxy.stop());
  const env = { GATEWAY_DATA_DIR: dir, FILE_S3_BUCKET: bucket.bucket, FILE_S3_GRACE_SECONDS: '5', AWS_ENDPOINT_URL_S3: proxy.endpoint };
  const first = await startServe(env);
  t.teardown(() => first.child.kill('SIGKILL'));
  await until(() => proxy.putsStored === 1, 'moto to store the first upload');
  const stored = await bucket.objects();
  t.equal(stored.size, 1, 'one object in S3');
  t.ok(keys.has([...stored.keys()][0]), 'under one of the expected keys');
  t.equal(localMinuteFiles(dir).length, 4, 'its local file not deleted yet');
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');

  // The next process, with S3 answering.
  const second = await startServe({ ...env, AWS_ENDPOINT_URL_S3: bucket.endpoint });
  t.teardown(() => second.child.kill('SIGKILL'));
  await until(() => localMinuteFiles(dir).length === 0, 'every file shipped and deleted');
  const objects = await bucket.objects();
  t.same([...objects.keys()].sort(), [...keys.keys()].sort(), 'one object per minute file, each under its key, no other');
  for (const [key, path] of keys) t.ok(objects.get(key)?.equals(bytes.get(path)!), `${relative(dir, path)} is in S3 byte for byte, under ${key}`);
  const metrics = await (await fetch(`${second.admin}/metrics`)).text();
  t.equal(metricValue(metrics, 'tracking_gateway_file_s3_uploads_total', { outcome: 'uploaded' }), 4, 'the second process uploaded all four, the first one again');
  t.equal(await second.stop(), 0);
  t.notOk(existsSync(`${dir}/_s3-shipped`), 'nothing kept (keepMinutes 0)');
});

t.test('workers: each ships its own files under its own host id (<host>-w<N>); the same minute of two workers is two objects', async (t) => {
  const bucket = await testBucket(t);
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const order = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!.versions.get(1)!;
  const minute = Math.floor(Date.now() / MINUTE) - 5;
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
  // The files each worker's data folder holds from before (the same minute in both).
  for (const worker of [1, 2]) {
    const writer = new FileDestination('file', `${dir}/worker-${worker}`, new GatewayMetrics(), pino({ level: 'silent' }));
    const event: GatewayEvent = { id: `from-worker-${worker}`, schema: order, source: 'test', receivedAt: minute * MINUTE + 1_000, data: validOrder(), size: 200 };
    t.same(await writer.send([event]), []);
    await writer.close();
  }
  const gateway = await startServe({ GATEWAY_WORKERS: '2', GATEWAY_DATA_DIR: dir, FILE_S3_BUCKET: bucket.bucket, AWS_ENDPOINT_URL_S3: bucket.endpoint });
  t.teardown(() => gateway.child.kill('SIGKILL'));
  await until(() => localMinuteFiles(dir).length === 0, 'both workers shipped their file');
  const objects = await bucket.objects();
  const keys = [1, 2].map((worker) => expectedKey('', 'shop/order-placed', `${host}-w${worker}`, minute));
  t.same([...objects.keys()].sort(), keys.sort(), 'one key per worker');
  for (const worker of [1, 2]) {
    const [line] = gunzipSync(objects.get(expectedKey('', 'shop/order-placed', `${host}-w${worker}`, minute))!).toString('utf8').split('\n');
    t.equal(JSON.parse(line).id, `from-worker-${worker}`, `worker ${worker}'s object holds worker ${worker}'s file`);
  }
  t.equal(await gateway.stop(), 0);
});
