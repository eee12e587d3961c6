import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteStreamCommand } from '@aws-sdk/client-kinesis';
import t from 'tap';
import { metricValue, readGzipLines, removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validOrder } from '../helpers/gateway';
import { kinesisClient, setupKinesisStream } from '../helpers/kinesis';

// What the Kinesis destination does when a record or the stream cannot be used, against moto:
// an oversized record is dead-lettered alone, a missing stream sends the route's events on,
// whole calls throttled go on as throttled; and the SDK's AWS_ENDPOINT_URL_KINESIS is honoured.

t.setTimeout(120_000);

async function postOrders(gateway: ReturnType<typeof testGateway>['gateway'], orders: object[], headers: Record<string, string> = {}) {
  const res = await gateway.publicServer.inject({
    method: 'POST',
    url: '/v1/events/shop/order-placed',
    headers: { ...SERVICE_AUTH, 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(orders),
  });
  return res.statusCode;
}

t.test('a record over 1 MiB with its envelope is dead-lettered as too_large; its batch-mates are delivered', async (t) => {
  const { moto, endpoint, stream, readAll } = await setupKinesisStream(t, 'too-large', 1);
  // The topic takes events up to its largest maxEventBytes (1,000 KiB); a long user agent in
  // the envelope takes the record past Kinesis' 1 MiB.
  const topicsDir = tempDir();
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  const file = join(topicsDir, 'shop/order-placed/topic.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/maxEventBytes: \d+/, 'maxEventBytes: 1024000'));
  const { gateway, dataDir } = testGateway({
    topicsDir,
    envelope: { userAgent: true },
    server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, maxHeaderBytes: 128 * 1024 },
    destinations: { kinesis: { type: 'kinesis', stream, endpoint } },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    removeDir(topicsDir);
  });
  await gateway.start();
  const big = validOrder({ orderId: 'big', couponCode: 'c'.repeat(1_000_000) });
  const userAgent = { 'user-agent': 'u'.repeat(60_000) };
  const status = await postOrders(gateway, [validOrder({ orderId: 'small-1' }), big, validOrder({ orderId: 'small-2' })], userAgent);
  t.equal(status, 200, 'answered once every event is durable: delivered or dead-lettered');
  t.same((await readAll()).map((r) => r.partitionKey).sort(), ['small-1', 'small-2']);
  let metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_dead_lettered_total', { service: 'shop', topic: 'order-placed', reason: 'too_large' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'kinesis', outcome: 'too_large' }), 1);

  // With the stream gone, an oversized record is still too large (dead letter), while its
  // batch-mate, which the stream could not take, moves on to the spool.
  const client = kinesisClient(moto);
  await client.send(new DeleteStreamCommand({ StreamName: stream }));
  client.destroy();
  t.equal(await postOrders(gateway, [validOrder({ orderId: 'small-3' }), big], userAgent), 200);
  metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_dead_lettered_total', { service: 'shop', topic: 'order-placed', reason: 'too_large' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'kinesis', reason: 'unavailable' }), 1, 'the small one went on');
  await gateway.close();
  const dead = readGzipLines(join(dataDir, '_dead-letter'));
  t.same(dead.map((d) => d.reason), ['too_large', 'too_large']);
  for (const d of dead) t.match(d.message, /kinesis: event is \d+ bytes with its partition key; a Kinesis record takes at most 1048576/);
});

t.test('a stream that does not exist: the destination is down from the start and its events go down the route', async (t) => {
  const { endpoint } = await setupKinesisStream(t, 'unused', 1);
  const filesDir = tempDir();
  const { gateway, dataDir } = testGateway({
    destinations: {
      kinesis: { type: 'kinesis', stream: `missing-${Date.now()}`, endpoint },
      files: { type: 'file', dir: filesDir },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    removeDir(filesDir);
  });
  await gateway.start();
  t.equal(await postOrders(gateway, [validOrder({ orderId: 'm1' }), validOrder({ orderId: 'm2' })]), 200);
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'kinesis', to: 'files' }), 2, 'both events moved on');
  t.equal(metricValue(metrics, 'tracking_gateway_destination_state', { destination: 'kinesis', state: 'down' }), 1, 'the destination is down');
  await gateway.close();
  t.same(readGzipLines(filesDir).map((e) => e.data.orderId).sort(), ['m1', 'm2']);
});

t.test('a stream deleted while the gateway runs: PutRecords fails as unavailable and the events go down the route', async (t) => {
  const { moto, endpoint, stream } = await setupKinesisStream(t, 'deleted', 1);
  const filesDir = tempDir();
  const { gateway, dataDir } = testGateway({
    destinations: {
      kinesis: { type: 'kinesis', stream, endpoint },
      files: { type: 'file', dir: filesDir },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    removeDir(filesDir);
  });
  await gateway.start();
  t.equal((await gateway.adminServer.inject({ url: '/readyz' })).statusCode, 200, 'ready while the stream exists');
  const client = kinesisClient(moto);
  await client.send(new DeleteStreamCommand({ StreamName: stream }));
  client.destroy();
  t.equal(await postOrders(gateway, [validOrder({ orderId: 'd1' }), validOrder({ orderId: 'd2' })]), 200);
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'kinesis', to: 'files', reason: 'unavailable' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_put_records_calls_total', { destination: 'kinesis', outcome: 'unavailable' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_destination_misconfigured', { destination: 'kinesis', reason: 'missing_stream' }), 1, 'a missing stream is a setting, not an outage');
  const ready = await gateway.adminServer.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 200, 'still ready: the route falls back to files');
  t.match(ready.json(), { misconfigured: [{ destination: 'kinesis', reason: 'missing_stream', message: /ResourceNotFoundException/ }] }, '/readyz names it');
  await gateway.close();
  t.same(readGzipLines(filesDir).map((e) => e.data.orderId).sort(), ['d1', 'd2']);
});

t.test('whole calls throttled (ProvisionedThroughputExceededException) move their records on as throttled', async (t) => {
  const { proxy, stream, readAll } = await setupKinesisStream(t, 'call-throttled', 1);
  proxy.setQuota(stream, { requestsPerSecond: 1 });
  const filesDir = tempDir();
  const { gateway, dataDir } = testGateway({
    batch: { maxRecords: 10 },
    destinations: {
      kinesis: { type: 'kinesis', stream, endpoint: proxy.endpoint, batch: { maxRecords: 10, maxInFlight: 4 } },
      files: { type: 'file', dir: filesDir },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    removeDir(filesDir);
  });
  await gateway.start();
  const ids = Array.from({ length: 80 }, (_, i) => `w-${i}`);
  t.equal(await postOrders(gateway, ids.map((id) => validOrder({ orderId: id }))), 200);
  const inStream = (await readAll()).map((r) => r.partitionKey);
  await gateway.close();
  const inFiles = readGzipLines(filesDir).map((e) => e.data.orderId as string);
  t.ok(proxy.stats(stream).throttledCalls > 0, 'the proxy refused whole calls');
  t.ok(inStream.length > 0 && inFiles.length > 0, `some in the stream (${inStream.length}), the rest in files (${inFiles.length})`);
  t.same([...inStream, ...inFiles].sort(), [...ids].sort(), 'each event exactly once');
  const metrics = await gateway.metrics.render();
  t.ok(metricValue(metrics, 'tracking_gateway_kinesis_put_records_calls_total', { destination: 'kinesis', outcome: 'throttled' }) > 0);
  t.ok(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'kinesis', to: 'files', reason: 'throttled' }) > 0);
});

t.test('records failed one by one with InternalFailure (or a code not documented) go down the route as unavailable; the rest are delivered', async (t) => {
  const { endpoint, proxy, stream, readAll } = await setupKinesisStream(t, 'internal-failure', 1);
  const filesDir = tempDir();
  const { gateway, dataDir } = testGateway({
    destinations: {
      kinesis: { type: 'kinesis', stream, endpoint },
      files: { type: 'file', dir: filesDir },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    removeDir(filesDir);
  });
  await gateway.start();
  proxy.failKinesisRecords(stream, 'InternalFailure', 3);
  const ids = Array.from({ length: 10 }, (_, i) => `if-${i}`);
  t.equal(await postOrders(gateway, ids.map((id) => validOrder({ orderId: id }))), 200);
  proxy.failKinesisRecords(stream, 'SomethingNew', 2);
  t.equal(await postOrders(gateway, [validOrder({ orderId: 'new-1' }), validOrder({ orderId: 'new-2' }), validOrder({ orderId: 'new-3' })]), 200);
  const inStream = (await readAll()).map((r) => r.partitionKey).sort();
  const metrics = await gateway.metrics.render();
  await gateway.close();
  const inFiles = readGzipLines(filesDir).map((e) => e.data.orderId as string).sort();
  t.same(inFiles, ['if-0', 'if-1', 'if-2', 'new-1', 'new-2'], 'the failed records, and only they, went on');
  t.same(inStream, ['if-3', 'if-4', 'if-5', 'if-6', 'if-7', 'if-8', 'if-9', 'new-3'], 'their batch-mates were delivered once');
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_records_failed_total', { destination: 'kinesis', error_code: 'InternalFailure' }), 3);
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_records_failed_total', { destination: 'kinesis', error_code: 'other' }), 2, 'an undocumented code is counted as other');
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_put_records_calls_total', { destination: 'kinesis', outcome: 'partial' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'kinesis', to: 'files', reason: 'unavailable' }), 5);
});

t.test('without endpoint in the config, AWS_ENDPOINT_URL_KINESIS (over AWS_ENDPOINT_URL) names the endpoint', async (t) => {
  const { proxy, stream, readAll } = await setupKinesisStream(t, 'env-endpoint', 1);
  const previous = { kinesis: process.env.AWS_ENDPOINT_URL_KINESIS, any: process.env.AWS_ENDPOINT_URL };
  process.env.AWS_ENDPOINT_URL_KINESIS = proxy.endpoint;
  // A general endpoint that answers nothing: only the Kinesis-specific one may be used.
  process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
  const { gateway, dataDir } = testGateway({ destinations: { kinesis: { type: 'kinesis', stream } } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    for (const [name, value] of [['AWS_ENDPOINT_URL_KINESIS', previous.kinesis], ['AWS_ENDPOINT_URL', previous.any]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  await gateway.start();
  t.equal(await postOrders(gateway, [validOrder({ orderId: 'env-1' })]), 200);
  t.equal(proxy.stats(stream).recordsAccepted, 1, 'the call went to AWS_ENDPOINT_URL_KINESIS');
  t.same((await readAll()).map((r) => r.partitionKey), ['env-1']);
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_kinesis_open_shards', { destination: 'kinesis' }), 1, 'DescribeStreamSummary went there too');
});
