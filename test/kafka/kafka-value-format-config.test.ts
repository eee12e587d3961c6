// The Kafka value format and the schema registry settings are validated once, at start, with
// errors that name the key (or the variable that set it).
import { appendFileSync, cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig } from '../../src/config/config';
import { removeDir, tempDir, testGateway, TOPICS_DIR } from '../helpers/gateway';

t.test('valueFormat: per destination, from KAFKA_VALUE_FORMAT, default avro; other values refused naming the key', async (t) => {
  t.equal(buildConfig({}, { KAFKA_BROKERS: 'k:9092' }).destinations.kafka.valueFormat, 'avro');
  t.equal(buildConfig({}, { KAFKA_BROKERS: 'k:9092', KAFKA_VALUE_FORMAT: 'confluent-avro' }).destinations.kafka.valueFormat, 'confluent-avro');
  t.equal(buildConfig({ destinations: { kafka: { type: 'kafka', brokers: ['k:9092'], valueFormat: 'confluent-avro' } } }, {}).destinations.kafka.valueFormat, 'confluent-avro');
  t.throws(() => buildConfig({}, { KAFKA_BROKERS: 'k:9092', KAFKA_VALUE_FORMAT: 'json' }), /destinations\.kafka\.valueFormat \(from KAFKA_VALUE_FORMAT\) must be equal to one of the allowed values/);
  t.throws(() => buildConfig({ destinations: { eu: { type: 'kafka', brokers: ['k:9092'], valueFormat: 'protobuf' } } }, {}), /destinations\.eu\.valueFormat must be equal to one of the allowed values/);
});

t.test('schemaRegistry: url, basic auth in pairs, mode; from GATEWAY_SCHEMA_REGISTRY_*', async (t) => {
  t.same(buildConfig({}, {}).schemaRegistry, { mode: 'register', requestTimeoutMs: 10000 });
  const fromEnv = buildConfig({}, { GATEWAY_SCHEMA_REGISTRY_URL: 'https://sr.example:8081', GATEWAY_SCHEMA_REGISTRY_USERNAME: 'u', GATEWAY_SCHEMA_REGISTRY_PASSWORD: 'p', GATEWAY_SCHEMA_REGISTRY_MODE: 'check' });
  t.same(fromEnv.schemaRegistry, { url: 'https://sr.example:8081', username: 'u', password: 'p', mode: 'check', requestTimeoutMs: 10000 });
  t.throws(() => buildConfig({ schemaRegistry: { url: 'ftp://x' } }, {}), /schemaRegistry\.url must match pattern/);
  t.throws(() => buildConfig({}, { GATEWAY_SCHEMA_REGISTRY_URL: 'not a url' }), /schemaRegistry\.url \(from GATEWAY_SCHEMA_REGISTRY_URL\) must match pattern/);
  t.throws(() => buildConfig({ schemaRegistry: { url: 'http://sr:8081', username: 'u' } }, {}), /schemaRegistry must have property password when property username is present/);
  t.throws(() => buildConfig({ schemaRegistry: { mode: 'write' } }, {}), /schemaRegistry\.mode must be equal to one of the allowed values/);
  t.throws(() => buildConfig({ schemaRegistry: { urls: [] } }, {}), /schemaRegistry: unknown key "urls"/);
});

t.test("a topic's destinationOptions.kafka.valueFormat is checked with its file", async (t) => {
  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  appendFileSync(join(topicsDir, 'shop/order-placed/topic.yaml'), '\ndestinationOptions:\n  kafka: { valueFormat: confluent }\n');
  t.throws(() => testGateway({ topicsDir }), /shop\/order-placed\/topic\.yaml: destinationOptions\.kafka\.valueFormat must be equal to one of the allowed values/);
});

t.test('confluent-avro for a topic whose versions have no ids: the start stops, naming the subject and the file', async (t) => {
  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  rmSync(join(topicsDir, 'shop/order-placed/schema-ids.yaml'));
  // No broker is needed to find out: the ids are resolved before the first connection.
  const { gateway, dataDir } = testGateway({ topicsDir, destinations: { kafka: { type: 'kafka', brokers: ['127.0.0.1:1'], valueFormat: 'confluent-avro' } } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await t.rejects(gateway.start(), /subject shop\.order-placed-value: shop\/order-placed v1 has no schema id, and the Kafka value format confluent-avro needs one: add it to shop\/order-placed\/schema-ids\.yaml/);
});
