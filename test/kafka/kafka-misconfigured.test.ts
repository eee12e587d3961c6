import { Admin } from '@platformatic/kafka';
import t from 'tap';
import { until } from '../helpers/clock';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { metricValue, removeDir, SERVICE_AUTH, testGateway, validOrder } from '../helpers/gateway';
import { consumeAll, uniquePrefix } from './kafka-helpers';

// The only Kafka destination of a route refuses every batch because its topic does not exist
// (and the gateway may not create it). The events wait in the spool, acknowledged; /readyz says
// why, naming the destination, and destination_misconfigured counts it. Once the topic exists
// the destination connects, /readyz is ready again and replay brings the events to Kafka.

t.test('a missing Kafka topic: /readyz is 503 naming kafka and the topic, destination_misconfigured is 1; creating the topic cures it', async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('misconfigured');
  const { gateway, dataDir } = testGateway({
    destinations: { kafka: { type: 'kafka', brokers, topic: `${prefix}.{service}.{topic}`, requestTimeoutMs: 2000 } },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const res = await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify([validOrder({ $id: 'm-1' }), validOrder({ $id: 'm-2' })]) });
  t.equal(res.statusCode, 200, 'acknowledged: durable in the spool');
  const ready = await gateway.adminServer.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503, '/readyz is not ready: the route cannot deliver until someone creates the topic');
  t.match(ready.json(), { reason: new RegExp(`route kafka cannot deliver until its configuration is fixed: kafka \\(missing_topic: Kafka topics missing: ${prefix}`), misconfigured: [{ destination: 'kafka', reason: 'missing_topic' }] });
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_destination_misconfigured', { destination: 'kafka', reason: 'missing_topic' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_spool_records'), 2, 'the events wait in the spool');

  const admin = new Admin({ clientId: 'test-admin', bootstrapBrokers: brokers });
  t.teardown(() => admin.close());
  const topics = [`${prefix}.shop.order-placed`, `${prefix}.widget.impression`];
  await admin.createTopics({ topics, partitions: 1, replicas: 1 });
  await until(async () => (await gateway.adminServer.inject({ url: '/readyz' })).statusCode === 200, '/readyz to be ready once the topics exist', 60_000);
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_destination_misconfigured'), 0, 'no longer misconfigured');
  await until(async () => metricValue(await gateway.metrics.render(), 'tracking_gateway_spool_records') === 0, 'replay into Kafka', 60_000);
  const records = await consumeAll(brokers, [topics[0]], gateway.registry, 2);
  t.same(records.map((r) => r.headers.ce_id).sort(), ['m-1', 'm-2']);
});
