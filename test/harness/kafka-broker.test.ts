import { Kafka, logLevel, Partitioners } from 'kafkajs';
import t from 'tap';
import { KafkaBroker } from './kafka-broker';

// The first run downloads the broker's jars with Maven before it can start.
t.setTimeout(5 * 60_000);

const TOPIC = 'harness-check';
const SENT = [
  { key: 'a', value: 'first' },
  { key: 'b', value: 'second' },
  { key: 'c', value: 'third' },
];
const CONSUME_TIMEOUT_MS = 30_000;

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'kafka-broker-test', brokers, logLevel: logLevel.ERROR });
}

/** Reads the first `count` messages of the topic with a new consumer group. */
async function consumeFromBeginning(
  brokers: string[],
  groupId: string,
  count: number,
): Promise<{ key: string; value: string }[]> {
  const consumer = client(brokers).consumer({ groupId });
  const received: { key: string; value: string }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`received ${received.length} of ${count} messages in ${CONSUME_TIMEOUT_MS} ms`)),
        CONSUME_TIMEOUT_MS,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push({ key: String(message.key), value: String(message.value) });
            if (received.length === count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

async function endOffset(brokers: string[]): Promise<string> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const [partition] = await admin.fetchTopicOffsets(TOPIC);
    return partition.high;
  } finally {
    await admin.disconnect();
  }
}

t.test('a produced message survives a broker stop and start', async (t) => {
  const broker = await KafkaBroker.start();
  t.teardown(() => broker.stop());
  t.match(broker.brokers, [/^127\.0\.0\.1:\d+$/]);

  const admin = client(broker.brokers).admin();
  await admin.connect();
  t.ok(
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true }),
    'topic created',
  );
  await admin.disconnect();

  const producer = client(broker.brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const [ack] = await producer.send({ topic: TOPIC, acks: -1, messages: SENT });
  await producer.disconnect();
  t.equal(ack.errorCode, 0, 'all replicas acknowledged');

  t.same(await consumeFromBeginning(broker.brokers, 'before-restart', SENT.length), SENT);

  const addresses = [...broker.brokers];
  await broker.stop();
  await broker.startAgain();
  t.same(broker.brokers, addresses, 'same address after the restart');

  t.same(await consumeFromBeginning(broker.brokers, 'after-restart', SENT.length), SENT, 'data kept');
  t.equal(await endOffset(broker.brokers), String(SENT.length), 'no more and no fewer messages');
});
