// A destination type's own metrics (made by DestinationType.metrics in each worker's registry)
// reach the primary's /metrics, aggregated across workers like the gateway's: counters added
// up, kafka_connected the lowest of the workers'.
import t from 'tap';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { metricValue, removeDir, SERVICE_AUTH, tempDir, validOrder } from '../helpers/gateway';
import { startServe } from '../helpers/process';

t.test("two workers with a Kafka destination: the kafka type's metrics on the primary's /metrics", async (t) => {
  const brokers = await kafkaBrokersForTests();
  const dataDir = tempDir();
  t.teardown(() => removeDir(dataDir));
  // The Kafka topic is the default template's, shop.order-placed, created if missing.
  const gateway = await startServe({ GATEWAY_WORKERS: '2', GATEWAY_DATA_DIR: dataDir, KAFKA_BROKERS: brokers.join(','), KAFKA_CREATE_TOPICS: 'true' });
  t.teardown(() => gateway.child.kill('SIGKILL'));
  const posts = 6;
  for (let i = 0; i < posts; i++) {
    const res = await fetch(`${gateway.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(validOrder({ orderId: `m-${i}` })) });
    await res.arrayBuffer();
    t.equal(res.status, 200);
  }
  const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
  t.equal(metricValue(metrics, 'tracking_gateway_kafka_connected', { destination: 'kafka' }), 1, 'every worker connected (min)');
  t.equal(metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'kafka', outcome: 'delivered' }), posts);
  // Each post waits for its batch: one producer batch each, in whichever worker took it.
  t.equal(metricValue(metrics, 'tracking_gateway_kafka_produce_requests_total', { destination: 'kafka', outcome: 'acked' }), posts, 'producer batches of both workers, added up');
  t.match(metrics, /# HELP tracking_gateway_kafka_in_flight_requests /);
  t.equal(await gateway.stop(), 0);
});
