import { createServer } from 'node:net';
import t from 'tap';
import { buildConfig } from '../../src/config/config';
import { BROKER_MESSAGE_MAX_BYTES_DEFAULT } from '../../src/destinations/kafka/limits';
import { metricValue, removeDir, testGateway, SERVICE_AUTH } from '../helpers/gateway';

t.test('KAFKA_BROKERS with no destinations configured: one kafka destination, the default route', async (t) => {
  const config = buildConfig({}, { KAFKA_BROKERS: 'k1:9092, k2:9092', KAFKA_CLIENT_ID: 'edge', KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
  t.same(Object.keys(config.destinations), ['kafka']);
  t.same(config.defaultRoute, ['kafka']);
  t.match(config.destinations.kafka, { type: 'kafka', brokers: ['k1:9092', 'k2:9092'], clientId: 'edge', ssl: true, acks: 'all', compression: 'gzip', sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
});

t.test('a config file names several clusters; KAFKA_* set the one named kafka', async (t) => {
  const config = buildConfig(
    {
      destinations: { kafka: { type: 'kafka', brokers: ['old:9092'] }, eu: { type: 'kafka', brokers: ['eu:9092'], topic: 'gw.{service}.{topic}' }, local: { type: 'file' } },
      defaultRoute: ['eu', 'kafka', 'local'],
    },
    { KAFKA_BROKERS: 'new:9092' },
  );
  t.same(config.destinations.kafka.type === 'kafka' && config.destinations.kafka.brokers, ['new:9092']);
  t.same(config.destinations.eu.type === 'kafka' && config.destinations.eu.brokers, ['eu:9092']);
  t.same(config.defaultRoute, ['eu', 'kafka', 'local']);
});

t.test('a config file whose destinations have no kafka entry: KAFKA_BROKERS is refused, not added to its routes', async (t) => {
  t.throws(
    () => buildConfig({ destinations: { local: { type: 'file' } } }, { KAFKA_BROKERS: 'k1:9092' }),
    /KAFKA_BROKERS sets keys of destination "kafka" \(type kafka\), which the config file's destinations do not have/,
  );
  // An empty mapping names nothing: KAFKA_BROKERS makes the kafka destination, as with no key at all.
  t.same(Object.keys(buildConfig({ destinations: {} }, { KAFKA_BROKERS: 'k1:9092' }).destinations), ['kafka']);
});

t.test('KAFKA_CREATE_TOPICS turns on topic creation for the env cluster', async (t) => {
  const config = buildConfig({}, { KAFKA_BROKERS: 'k1:9092,k2:9092', KAFKA_CREATE_TOPICS: 'true' });
  const kafka = config.destinations.kafka;
  t.equal(kafka.type, 'kafka');
  t.match(kafka, { brokers: ['k1:9092', 'k2:9092'], createTopics: { enabled: true } });
});

t.test('limits: a batch is clamped to the broker message size; errors name the key and the variable', async (t) => {
  const config = buildConfig({ destinations: { kafka: { type: 'kafka', brokers: ['k:9092'], batch: { maxBytes: 8 * 1024 * 1024 }, maxInFlightRequests: 50 } } });
  t.equal(config.destinations.kafka.batch?.maxBytes, BROKER_MESSAGE_MAX_BYTES_DEFAULT);
  t.equal(config.destinations.kafka.type === 'kafka' && config.destinations.kafka.maxInFlightRequests, 5);
  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd', 'none']) {
    t.equal(buildConfig({ destinations: { kafka: { type: 'kafka', brokers: ['k:9092'], compression } } }).destinations.kafka.compression, compression, `compression ${compression}`);
  }
  t.throws(() => buildConfig({ destinations: { kafka: { type: 'kafka', brokers: ['k:9092'], compression: 'brotli' } } }), /destinations\.kafka\.compression/);
  t.throws(() => buildConfig({}, { KAFKA_BROKERS: 'no-port' }), /destinations\.kafka\.brokers\.0 \(from KAFKA_BROKERS\)/);
});

t.test('broker unreachable at start, no spool: the gateway starts, is not ready, and service events get 503', async (t) => {
  // A port nothing listens on.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));

  const { gateway, dataDir } = testGateway({ server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', ackTimeoutMs: 500 }, logLevel: 'error', spool: { enabled: false } }, { KAFKA_BROKERS: `127.0.0.1:${port}` });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const ready = await gateway.adminServer.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503);
  const order = await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify({ orderId: 'o', customerId: 'c', placedAt: 1, totalCents: 1, currency: 'EUR', items: [] }) });
  t.equal(order.statusCode, 503);
  t.ok(order.headers['retry-after']);
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_kafka_connected', { destination: 'kafka' }), 0);
});
