import { UpdateShardCountCommand } from '@aws-sdk/client-kinesis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import type { KinesisDestinationConfig } from '../../src/destinations/kinesis/config';
import { KinesisDestination, type ShardRefresh } from '../../src/destinations/kinesis/kinesis-destination';
import { KinesisMetrics } from '../../src/destinations/kinesis/kinesis-metrics';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { metricValue, TOPICS_DIR, validOrder } from '../helpers/gateway';
import { kinesisClient, setupKinesisStream } from '../helpers/kinesis';

// The stream's shards are counted at start, every few minutes and after a throttle (not more
// often than a minimum interval): a stream resharded in moto shows in the quota.

t.setTimeout(60_000);

const orderV1 = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!.versions.get(1)!;
const events = (count: number): GatewayEvent[] =>
  Array.from({ length: count }, (_, i) => ({ id: `e-${i}`, schema: orderV1, source: '/v1/events/shop/order-placed', receivedAt: Date.now(), data: validOrder({ orderId: `o-${i}` }), size: 300, key: `o-${i}` }));
const quiet = { info() {}, warn() {}, error() {} };

async function destinationOn(t: Test, refresh: ShardRefresh) {
  const kinesis = await setupKinesisStream(t, 'reshard', 1);
  const registry = new Registry();
  const config: KinesisDestinationConfig = { stream: kinesis.stream, endpoint: kinesis.endpoint, format: 'cloudevents-json', quota: {}, learnRate: true, requestTimeoutMs: 10_000 };
  const destination = new KinesisDestination('k', config, { metrics: new KinesisMetrics(registry), gatewayMetrics: new GatewayMetrics(), log: quiet }, refresh);
  t.teardown(() => destination.close());
  await destination.start({ topics: [], log: quiet });
  const shards = async () => metricValue(await registry.metrics(), 'tracking_gateway_kinesis_open_shards', { destination: 'k' });
  const reshard = async (count: number) => {
    const client = kinesisClient(kinesis.moto);
    await client.send(new UpdateShardCountCommand({ StreamName: kinesis.stream, TargetShardCount: count, ScalingType: 'UNIFORM_SCALING' }));
    client.destroy();
  };
  const waitFor = async (count: number) => {
    for (let i = 0; i < 40 && (await shards()) !== count; i++) await sleep(50);
    return shards();
  };
  return { ...kinesis, destination, shards, reshard, waitFor };
}

t.test('a throttle counts the shards again', async (t) => {
  const { destination, proxy, stream, shards, reshard, waitFor } = await destinationOn(t, { everyMs: 3_600_000, afterThrottleMinMs: 0 });
  t.equal(await shards(), 1, 'counted at start');
  t.equal(destination.room(), 1000, 'one shard: room for 1,000 records');
  await reshard(3);
  proxy.setQuota(stream, { recordsPerSecond: 20 });
  const failures = await destination.send(events(50));
  t.equal(failures.filter((f) => f.kind === 'throttled').length, 30, 'what the stream did not take is handed back as throttled');
  t.equal(await waitFor(3), 3, 'counted again after the throttle');
});

t.test('not more often than the minimum interval after a throttle', async (t) => {
  const { destination, proxy, stream, shards, reshard } = await destinationOn(t, { everyMs: 3_600_000, afterThrottleMinMs: 60_000 });
  await reshard(2);
  proxy.setQuota(stream, { recordsPerSecond: 20 });
  t.equal((await destination.send(events(50))).length, 30);
  await sleep(500);
  t.equal(await shards(), 1, 'the count from start stands within the interval');
});

t.test('and every few minutes (here: 200 ms) without any send', async (t) => {
  const { reshard, waitFor } = await destinationOn(t, { everyMs: 200, afterThrottleMinMs: 60_000 });
  await reshard(4);
  t.equal(await waitFor(4), 4);
});
