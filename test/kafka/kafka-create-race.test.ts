import t from 'tap';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { metricValue, removeDir, testGateway } from '../helpers/gateway';
import { uniquePrefix } from './kafka-helpers';

// Workers of one host, or pods of one deploy, start at once with createTopics on: each finds
// the topics missing and asks to create them, and all but one are told they already exist.
// Every one of them must come up connected, not wait out a reconnect backoff.

t.test('gateways starting together with createTopics: the ones that lose the race are connected too', async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('create-race');
  const gateways = Array.from({ length: 4 }, () =>
    testGateway({ destinations: { kafka: { type: 'kafka', brokers, topic: `${prefix}.{service}.{topic}`, createTopics: { enabled: true, numPartitions: 1, replicationFactor: 1 } } } }),
  );
  t.teardown(async () => {
    for (const { gateway, dataDir } of gateways) {
      await gateway.close();
      removeDir(dataDir);
    }
  });
  await Promise.all(gateways.map(({ gateway }) => gateway.start()));
  for (const [i, { gateway }] of gateways.entries()) {
    t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_kafka_connected', { destination: 'kafka' }), 1, `gateway ${i + 1} connected`);
    t.equal((await gateway.adminServer.inject({ url: '/readyz' })).statusCode, 200, `gateway ${i + 1} ready`);
  }
});
