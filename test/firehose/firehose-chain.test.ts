import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { buildConfig } from '../../src/config/config';
import { scanSegment } from '../../src/destinations/spool/segment-file';
import { Gateway } from '../../src/gateway';
import { MAX_BYTES_PER_CALL, MAX_RECORD_BYTES, MAX_RECORDS_PER_CALL } from '../harness/firehose-quota-proxy';
import { setupStreams } from '../helpers/firehose';
import { metricValue, removeDir, SERVICE_AUTH, tempDir, TEST_KEYS_ENV, TEST_SERVICE_KEY, TOPICS_DIR, validOrder } from '../helpers/gateway';

// The fallback chain against the real Firehose API (moto) behind a proxy that throttles as
// Firehose does. Reproduces the original need: streams with a quota each carrying together
// more than one stream can.

t.setTimeout(10 * 60_000);

function startGateway(t: any, destinations: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const dataDir = tempDir();
  // No environment: the test run's KAFKA_BROKERS would put Kafka after the streams, where the
  // overflow that should reach the spool would go once the broker has the topics.
  const config = buildConfig(
    {
      topicsDir: TOPICS_DIR,
      dataDir,
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, ackTimeoutMs: 30000 },
      auth: { keys: [{ key: TEST_SERVICE_KEY, scopes: ['*'] }] },
      destinations,
      ...extra,
    },
    {},
  );
  const gateway = new Gateway(config);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  return { gateway, spoolDir: join(dataDir, '_spool') };
}

/** Event ids in the spool's segment files. */
function idsInSpool(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) => scanSegment(readFileSync(join(dir, name))).payloads.map((p) => JSON.parse(p.toString('utf8')).id as string));
}

async function postOrders(gateway: Gateway, ids: string[]): Promise<number> {
  const res = await gateway.publicServer.inject({
    method: 'POST',
    url: '/v1/events/shop/order-placed',
    headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
    payload: JSON.stringify(ids.map((id) => validOrder({ $id: id, orderId: id }))),
  });
  return res.statusCode;
}

t.test('a → b → c → spool at three times a’s quota: a carries its quota, every event lands exactly once', async (t) => {
  const { proxy, streams, idsIn } = await setupStreams(t, ['stream-a', 'stream-b', 'stream-c']);
  const quota = { recordsPerSecond: 200 };
  for (const stream of streams) proxy.setQuota(stream, quota);
  // The gateway knows each stream's quota (as an operator would configure it) and sends one
  // event per record here, so records/s is events/s.
  const destinations = Object.fromEntries(
    streams.map((stream, i) => [`firehose-${'abc'[i]}`, { type: 'firehose', stream, endpoint: proxy.endpoint, packRecordBytes: 0, quota }]),
  );
  const { gateway, spoolDir } = startGateway(t, destinations, { batch: { lingerMs: 20 } });
  await gateway.start();

  // 600 events/s for 4 s, in requests of 20.
  const sent: string[] = [];
  const statuses: number[] = [];
  const started = Date.now();
  for (let tick = 0; tick < 40; tick++) {
    const batch = Array.from({ length: 3 }, (_, r) => Array.from({ length: 20 }, (_, i) => `ev-${tick}-${r}-${i}`));
    statuses.push(...(await Promise.all(batch.map((ids) => postOrders(gateway, ids)))));
    sent.push(...batch.flat());
    await sleep(Math.max(0, started + (tick + 1) * 100 - Date.now()));
  }
  const seconds = (Date.now() - started) / 1000;
  t.ok(statuses.every((s) => s === 200), 'every request answered 200 (durable)');

  const spooled = idsInSpool(spoolDir);
  const [a, b, c] = await Promise.all(streams.map(idsIn));
  const metrics = await gateway.metrics.render();
  t.comment(`in ${seconds.toFixed(1)} s: stream-a ${a.length}, stream-b ${b.length}, stream-c ${c.length}, spool ${spooled.length}; stream-a throttled ${proxy.stats(streams[0]).recordsThrottled} records`);
  const all = [...a, ...b, ...c];
  t.equal(new Set(all).size, all.length, 'no event delivered twice');
  // Replay runs during the load, so an event may be both delivered and still in a segment not yet deleted.
  const found = new Set([...all, ...spooled]);
  t.same(sent.filter((id) => !found.has(id)), [], 'every accepted event is in S3 or in the spool');
  // Counted over a sliding window: the first second may start full, then the quota per second.
  const expected = quota.recordsPerSecond * seconds;
  t.ok(a.length >= 0.85 * expected && a.length <= quota.recordsPerSecond * (seconds + 1), `stream-a carried about its quota (${(a.length / seconds).toFixed(0)}/s of ${quota.recordsPerSecond}/s)`);
  t.ok(proxy.stats(streams[0]).recordsThrottled <= 0.05 * a.length, 'the overflow was split off before stream-a throttled it');
  t.ok(b.length > 0 && c.length > 0, 'the overflow went down the chain');
  t.ok(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'firehose-a', to: 'firehose-b', reason: 'throttled' }) > 0);

  for (const stream of streams) {
    const stats = proxy.stats(stream);
    t.equal(stats.limitViolations, 0, `${stream}: no call over Firehose's limits`);
    t.ok(stats.maxRecordsPerCall <= MAX_RECORDS_PER_CALL && stats.maxBytesPerCall <= MAX_BYTES_PER_CALL && stats.maxRecordBytes <= MAX_RECORD_BYTES);
  }

  // Once the load stops, the spool drains into the streams.
  for (let i = 0; i < 300 && metricValue(await gateway.metrics.render(), 'tracking_gateway_spool_records') > 0; i++) await sleep(200);
  const final = (await Promise.all(streams.map(idsIn))).flat();
  t.equal(final.length, sent.length, 'all events in S3 once the spool drained');
  t.same(new Set(final), new Set(sent), 'exactly the events sent');
});

t.test('per-record "Slow down." failures: only the failed records are resent, down the chain', async (t) => {
  const { proxy, streams, idsIn } = await setupStreams(t, ['narrow', 'wide']);
  // The gateway is not told the narrow stream's quota: it learns it from the throttling.
  proxy.setQuota(streams[0], { recordsPerSecond: 50 });
  const { gateway } = startGateway(t, {
    narrow: { type: 'firehose', stream: streams[0], endpoint: proxy.endpoint, packRecordBytes: 0 },
    wide: { type: 'firehose', stream: streams[1], endpoint: proxy.endpoint, packRecordBytes: 0 },
  });
  await gateway.start();
  const ids = Array.from({ length: 300 }, (_, i) => `slow-${i}`);
  t.equal(await postOrders(gateway, ids), 200);
  const [narrow, wide] = await Promise.all(streams.map(idsIn));
  t.ok(proxy.stats(streams[0]).recordsThrottled > 0, 'the narrow stream throttled per record');
  t.equal(narrow.length + wide.length, 300);
  t.same(new Set([...narrow, ...wide]), new Set(ids), 'each event exactly once: accepted records were not resent');
  const metrics = await gateway.metrics.render();
  t.ok(metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'narrow', outcome: 'throttled' }) > 0);
  const learned = metricValue(metrics, 'tracking_gateway_destination_learned_rate_records_per_second', { destination: 'narrow' });
  t.ok(learned > 0 && learned < 300, `learned a rate from the throttling (${learned.toFixed(0)}/s)`);
});

t.test('small events are packed into few records; FIREHOSE_STREAMS and AWS_ENDPOINT_URL_FIREHOSE configure the chain', async (t) => {
  const { proxy, streams, idsIn } = await setupStreams(t, ['packed']);
  const dataDir = tempDir();
  t.teardown(() => removeDir(dataDir));
  const config = buildConfig({ topicsDir: TOPICS_DIR, dataDir, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 } }, { FIREHOSE_STREAMS: streams[0], ...TEST_KEYS_ENV });
  t.same(config.defaultRoute, [`firehose-${streams[0]}`]);
  const previous = process.env.AWS_ENDPOINT_URL_FIREHOSE;
  process.env.AWS_ENDPOINT_URL_FIREHOSE = proxy.endpoint;
  const gateway = new Gateway(config);
  t.teardown(async () => {
    await gateway.close();
    if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_FIREHOSE;
    else process.env.AWS_ENDPOINT_URL_FIREHOSE = previous;
  });
  await gateway.start();
  const ids = Array.from({ length: 200 }, (_, i) => `packed-${i}`);
  t.equal(await postOrders(gateway, ids), 200);
  t.same(new Set(await idsIn(streams[0])), new Set(ids));
  const stats = proxy.stats(streams[0]);
  t.ok(stats.recordsAccepted <= 10, `200 events in ${stats.recordsAccepted} Firehose records`);
  const metrics = await gateway.metrics.render();
  t.ok(metricValue(metrics, 'tracking_gateway_firehose_events_per_record_sum') === 200);
});
