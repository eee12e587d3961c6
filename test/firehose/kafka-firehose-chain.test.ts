import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { KafkaBroker } from '../harness/kafka-broker';
import { setupStreams } from '../helpers/firehose';
import { metricValue, removeDir, testGateway, validOrder, SERVICE_AUTH } from '../helpers/gateway';
import { consumeAll, uniquePrefix } from '../kafka/kafka-helpers';

// A chain Kafka → Firehose with the broker stopped mid-run: what Kafka cannot take goes to
// the stream at once; every acknowledged event is in Kafka or in S3, none lost.

t.setTimeout(5 * 60_000);

t.test('kafka → firehose: broker stopped mid-run, nothing acknowledged is lost', async (t) => {
  const broker = await KafkaBroker.start();
  t.teardown(() => broker.stop());
  const { proxy, streams, idsIn } = await setupStreams(t, ['after-kafka']);
  const prefix = uniquePrefix('chain');
  const { gateway, dataDir } = testGateway({
    server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', ackTimeoutMs: 10000 },
    destinations: {
      kafka: { type: 'kafka', brokers: broker.brokers, topic: `${prefix}.{service}.{topic}`, requestTimeoutMs: 2000, createTopics: { enabled: true, numPartitions: 1, replicationFactor: 1 } },
      backup: { type: 'firehose', stream: streams[0], endpoint: proxy.endpoint },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();

  const acknowledged: string[] = [];
  let next = 0;
  let streaming = true;
  const client = async () => {
    while (streaming) {
      const ids = Array.from({ length: 20 }, () => `c-${next++}`);
      const res = await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(ids.map((id) => validOrder({ orderId: id, $id: id }))) });
      if (res.statusCode === 200) acknowledged.push(...ids);
      else await sleep(50);
    }
  };
  const stream = Promise.all([client(), client()]);
  await sleep(1000);
  await broker.stop();
  await sleep(3000);
  streaming = false;
  await stream;
  await gateway.close();
  await broker.startAgain();

  const metrics = await gateway.metrics.render();
  const inKafka = metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'kafka', outcome: 'delivered' });
  const kafkaIds = (await consumeAll(broker.brokers, [`${prefix}.shop.order-placed`], gateway.registry, inKafka, 30_000)).map((r) => r.headers.ce_id);
  const s3Ids = await idsIn(streams[0]);
  const found = new Set([...kafkaIds, ...s3Ids]);
  t.ok(s3Ids.length > 0, `${s3Ids.length} events went to Firehose while Kafka was away`);
  t.ok(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'kafka', to: 'backup' }) > 0, 'fallbacks counted');
  t.same(acknowledged.filter((id) => !found.has(id)).slice(0, 10), [], `every one of ${acknowledged.length} acknowledged events is in Kafka or S3`);
  t.equal(metricValue(metrics, 'tracking_gateway_events_dropped_total'), 0);
  t.comment(`kafka ${kafkaIds.length}, firehose ${s3Ids.length}, acknowledged ${acknowledged.length}, duplicates ${kafkaIds.length + s3Ids.length - found.size}`);
});
