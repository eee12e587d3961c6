// A topic names its Kafka topic in its own file (destinationOptions.kafka.topic), read by the
// kafka type through the registry's topic options; the real broker gets the events there.
import { appendFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';
import { consumeAll, uniquePrefix } from './kafka-helpers';

t.test('destinationOptions.kafka.topic overrides the destination template for that topic only', async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('topic-option');
  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  appendFileSync(join(topicsDir, 'shop/order-placed/topic.yaml'), `\ndestinationOptions:\n  kafka: { topic: ${prefix}.orders }\n`);
  const { gateway, dataDir } = testGateway({
    topicsDir,
    destinations: { kafka: { type: 'kafka', brokers, topic: `${prefix}.{service}.{topic}`, createTopics: { enabled: true, numPartitions: 1, replicationFactor: 1 } } },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const post = (path: string, body: unknown) =>
    gateway.publicServer.inject({ method: 'POST', url: `/v1/events/${path}`, headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  t.equal((await post('shop/order-placed', validOrder({ orderId: 'named' }))).statusCode, 200);
  t.equal((await post('widget/impression', validImpression({ widgetId: 'templated' }))).statusCode, 200);

  const named = await consumeAll(brokers, [`${prefix}.orders`], gateway.registry, 1, 10_000);
  t.same(named.map((r) => [r.topic, r.key]), [[`${prefix}.orders`, 'named']], 'the order went to the topic its file names');
  const templated = await consumeAll(brokers, [`${prefix}.widget.impression`], gateway.registry, 1, 10_000);
  t.same(templated.map((r) => r.data.widgetId), ['templated'], 'a topic without the option keeps the template');
});
