import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { buildConfig } from '../../src/config/config';
import { scanSegment } from '../../src/destinations/spool/segment-file';
import { Gateway } from '../../src/gateway';
import { KINESIS_MAX_BYTES_PER_CALL, KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_RECORDS_PER_CALL } from '../harness/firehose-quota-proxy';
import { setupStreams } from '../helpers/firehose';
import { metricValue, removeDir, SERVICE_AUTH, tempDir, TEST_SERVICE_KEY, TOPICS_DIR, validOrder } from '../helpers/gateway';
import { setupKinesisStream } from '../helpers/kinesis';

// kinesis → firehose → spool against the real Kinesis and Firehose APIs (moto) behind the
// quota proxy, which throttles both as the services do. The gateway believes the stream's
// shard count (1 shard: 1,000 records/s) but the proxy lets 100 records/s through, so it must
// learn from per-record ProvisionedThroughputExceededException; what Kinesis does not take
// goes to Firehose, what Firehose does not take to the spool, and every event lands once.

t.setTimeout(5 * 60_000);

const idsInSpool = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) => scanSegment(readFileSync(join(dir, name))).payloads.map((p) => JSON.parse(p.toString('utf8')).id as string));

t.test('kinesis → firehose → spool under throttling: throttled records move down, each event delivered exactly once', async (t) => {
  const { proxy, streams, idsIn } = await setupStreams(t, ['after-kinesis']);
  const kinesis = await setupKinesisStream(t, 'chain', 1);
  const quota = { recordsPerSecond: 100 };
  proxy.setQuota(kinesis.stream, quota);
  proxy.setQuota(streams[0], quota);
  const dataDir = tempDir();
  const config = buildConfig(
    {
      topicsDir: TOPICS_DIR,
      dataDir,
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, ackTimeoutMs: 30000 },
      auth: { keys: [{ key: TEST_SERVICE_KEY, scopes: ['*'] }] },
      batch: { lingerMs: 20 },
      destinations: {
        kinesis: { type: 'kinesis', stream: kinesis.stream, endpoint: proxy.endpoint },
        firehose: { type: 'firehose', stream: streams[0], endpoint: proxy.endpoint, packRecordBytes: 0, quota },
      },
    },
    // No environment: the test run's KAFKA_BROKERS would add Kafka to the chain.
    {},
  );
  const gateway = new Gateway(config);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();

  // 400 events/s for 3 s, in requests of 20: four times what each stream takes.
  const sent: string[] = [];
  const statuses: number[] = [];
  const started = Date.now();
  for (let tick = 0; tick < 30; tick++) {
    const requests = Array.from({ length: 2 }, (_, r) => Array.from({ length: 20 }, (_, i) => `k-${tick}-${r}-${i}`));
    statuses.push(
      ...(await Promise.all(
        requests.map(async (ids) => {
          const res = await gateway.publicServer.inject({
            method: 'POST',
            url: '/v1/events/shop/order-placed',
            headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
            payload: JSON.stringify(ids.map((id) => validOrder({ $id: id, orderId: id }))),
          });
          return res.statusCode;
        }),
      )),
    );
    sent.push(...requests.flat());
    await sleep(Math.max(0, started + (tick + 1) * 100 - Date.now()));
  }
  t.ok(statuses.every((s) => s === 200), 'every request answered 200 (durable)');

  const idsInKinesis = async () => (await kinesis.readAll()).map((r) => JSON.parse(r.data.toString('utf8')).id as string);
  const inKinesis = await idsInKinesis();
  const inFirehose = await idsIn(streams[0]);
  const spooled = idsInSpool(join(dataDir, '_spool'));
  const kStats = proxy.stats(kinesis.stream);
  t.comment(`kinesis ${inKinesis.length}, firehose ${inFirehose.length}, spool ${spooled.length}; kinesis throttled ${kStats.recordsThrottled} records`);
  t.ok(kStats.recordsThrottled > 0, 'Kinesis throttled records one by one');
  t.ok(inFirehose.length > 0, 'throttled records went on to Firehose');
  t.ok(proxy.stats(streams[0]).recordsThrottled > 0 || spooled.length > 0, 'Firehose throttled too');
  t.ok(spooled.length > 0, 'what Firehose did not take went to the spool');
  const delivered = [...inKinesis, ...inFirehose];
  t.equal(new Set(delivered).size, delivered.length, 'no event in both streams, none twice in one');
  const found = new Set([...delivered, ...spooled]);
  t.same(sent.filter((id) => !found.has(id)), [], 'every accepted event is in a stream or in the spool');
  t.equal(kStats.limitViolations, 0, 'no PutRecords over Kinesis limits');
  t.ok(kStats.maxRecordsPerCall <= KINESIS_MAX_RECORDS_PER_CALL && kStats.maxBytesPerCall <= KINESIS_MAX_BYTES_PER_CALL && kStats.maxRecordBytes <= KINESIS_MAX_RECORD_BYTES);

  let metrics = await gateway.metrics.render();
  t.ok(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'kinesis', to: 'firehose', reason: 'throttled' }) > 0, 'fallbacks counted');
  t.ok(metricValue(metrics, 'tracking_gateway_kinesis_records_failed_total', { destination: 'kinesis', error_code: 'ProvisionedThroughputExceededException' }) > 0, 'throttled records counted by error code');
  t.ok(metricValue(metrics, 'tracking_gateway_kinesis_put_records_calls_total', { destination: 'kinesis', outcome: 'partial' }) > 0, 'partly throttled calls counted');
  const learned = metricValue(metrics, 'tracking_gateway_destination_learned_rate_records_per_second', { destination: 'kinesis' });
  t.ok(learned < 1000, `the rate learned from throttling is under the shard's 1,000/s (${learned.toFixed(0)}/s)`);

  // Once the load stops, the spool drains to the chain's head.
  for (let i = 0; i < 600 && metricValue(await gateway.metrics.render(), 'tracking_gateway_spool_records') > 0; i++) await sleep(200);
  const final = [...(await idsInKinesis()), ...(await idsIn(streams[0]))];
  t.equal(final.length, sent.length, 'every event in a stream once the spool drained');
  t.same(new Set(final), new Set(sent), 'exactly the events sent');
  metrics = await gateway.metrics.render();
  const deliveredCount = metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'kinesis', outcome: 'delivered' }) + metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'firehose', outcome: 'delivered' });
  t.equal(deliveredCount, sent.length, 'delivered counts add up to the events sent');
});
