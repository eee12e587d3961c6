import { Registry } from 'prom-client';
import t from 'tap';
import type { KinesisDestinationConfig } from '../../src/destinations/kinesis/config';
import { KinesisDestination } from '../../src/destinations/kinesis/kinesis-destination';
import { KinesisMetrics } from '../../src/destinations/kinesis/kinesis-metrics';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { metricValue, TOPICS_DIR, validOrder } from '../helpers/gateway';
import { setupKinesisStream } from '../helpers/kinesis';

// The destination on its own against moto: what the endpoint says is bounded before it reaches
// logs, dead letters and metric labels.

t.setTimeout(60_000);

const orderV1 = loadTopicRegistry(TOPICS_DIR).get('shop', 'order-placed')!.versions.get(1)!;
const quiet = { info() {}, warn() {}, error() {} };

t.test('a hostile error code is cut in the failure text and counted as other', async (t) => {
  const { endpoint, proxy, stream } = await setupKinesisStream(t, 'hostile-code', 1);
  const registry = new Registry();
  const config: KinesisDestinationConfig = { stream, endpoint, format: 'cloudevents-json', quota: {}, learnRate: true, requestTimeoutMs: 10_000 };
  const destination = new KinesisDestination('k', config, { metrics: new KinesisMetrics(registry), gatewayMetrics: new GatewayMetrics(), log: quiet });
  t.teardown(() => destination.close());
  await destination.start({ topics: [], log: quiet });
  const code = `Evil${'X'.repeat(100_000)}`;
  proxy.failKinesisRecords(stream, code, 1);
  const events: GatewayEvent[] = [0, 1].map((i) => ({ id: `e-${i}`, schema: orderV1, source: '/v1/events/shop/order-placed', receivedAt: Date.now(), data: validOrder({ orderId: `o-${i}` }), size: 300, key: `o-${i}` }));
  const failures = await destination.send(events);
  t.equal(failures.length, 1);
  t.equal(failures[0].index, 0);
  t.equal(failures[0].kind, 'unavailable');
  t.ok(failures[0].message.length <= 513, `the text is cut (${failures[0].message.length} characters)`);
  t.ok(failures[0].message.startsWith('EvilXXX'));
  const metrics = await registry.metrics();
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_records_failed_total', { destination: 'k', error_code: 'other' }), 1);
  t.notOk(metrics.includes('EvilX'), 'the code itself is no label value');
});
