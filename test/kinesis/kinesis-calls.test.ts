import t from 'tap';
import { KINESIS_MAX_BYTES_PER_CALL, KINESIS_MAX_RECORDS_PER_CALL } from '../harness/firehose-quota-proxy';
import { metricValue, removeDir, SERVICE_AUTH, testGateway, validOrder } from '../helpers/gateway';
import { setupKinesisStream } from '../helpers/kinesis';

// A batch larger than one PutRecords call goes as several calls, each within 500 records and
// 5 MiB, against moto behind the proxy that refuses any call over those limits.

t.setTimeout(120_000);

t.test('batches over 500 records or 5 MiB are split into calls within both limits; the configured quota overrides the shards', async (t) => {
  const { proxy, stream, readAll } = await setupKinesisStream(t, 'calls', 1);
  // One shard would allow 1,000 records/s and 1 MiB/s; the configured quota lifts both, and
  // large batches gather what the requests below send.
  const { gateway, dataDir } = testGateway({
    destinations: {
      kinesis: { type: 'kinesis', stream, endpoint: proxy.endpoint, quota: { recordsPerSecond: 100_000, bytesPerSecond: 1e9 }, batch: { maxRecords: 5000, maxBytes: 64 * 1024 * 1024, lingerMs: 300 } },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const post = async (orders: object[]) =>
    (await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(orders) })).statusCode;

  // 1,200 small events in one batch: the record count binds.
  t.equal(await post(Array.from({ length: 1200 }, (_, i) => validOrder({ orderId: `small-${i}` }))), 200);
  let stats = proxy.stats(stream);
  t.equal(stats.calls, 3, '1,200 records in three calls');
  t.equal(stats.maxRecordsPerCall, KINESIS_MAX_RECORDS_PER_CALL, 'calls filled to 500 records');

  // 1,200 events of about 12 KB (14 MB) in four concurrent requests, one batch: the bytes bind.
  const coupon = 'x'.repeat(12_000);
  const statuses = await Promise.all([0, 1, 2, 3].map((r) => post(Array.from({ length: 300 }, (_, i) => validOrder({ orderId: `big-${r}-${i}`, couponCode: coupon })))));
  t.same(statuses, [200, 200, 200, 200]);
  stats = proxy.stats(stream);
  t.equal(stats.limitViolations, 0, 'no call over Kinesis limits');
  t.ok(stats.maxBytesPerCall <= KINESIS_MAX_BYTES_PER_CALL && stats.maxBytesPerCall > 4 * 1024 * 1024, `calls filled towards 5 MiB (largest ${stats.maxBytesPerCall} bytes)`);
  t.ok(stats.calls >= 3 + 3, `the large events took at least three calls (${stats.calls - 3})`);
  t.equal(stats.recordsAccepted, 2400);

  const records = await readAll();
  t.equal(records.length, 2400, 'every event in the stream once');
  t.equal(new Set(records.map((r) => r.partitionKey)).size, 2400);
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_destination_learned_rate_records_per_second', { destination: 'kinesis' }), 100_000, 'the configured records/s, not 1,000 for the one shard');
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_open_shards', { destination: 'kinesis' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_put_records_calls_total', { destination: 'kinesis', outcome: 'ok' }), stats.calls);
});
