import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { relative } from 'node:path';
import t from 'tap';
import { MovableClock, until } from '../helpers/clock';
import { listFiles, metricValue, removeDir, SERVICE_AUTH, tempDir, testGateway, validImpression, validOrder } from '../helpers/gateway';
import { startServe } from '../helpers/process';
import { expectedKey, localPath, testBucket } from '../helpers/s3';
import { S3Proxy } from '../harness/s3-proxy';

// kill -9 between upload and delete: S3 has the object, the local file is still there. The
// next process ships the file again, to the same key with the same bytes: one object per
// minute file, nothing lost, nothing under another key.

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
