// schemaRegistry.url: the gateway takes its ids from a registry that is not itself — here a
// second gateway process's embedded API (read-only, its own topics tree with other ids), the
// only Confluent-compatible registry that runs on this machine. Ids come from it, consumers
// decode with it, and the gateway refuses to start, naming the subject, when it lacks a version.
import { once } from 'node:events';
import { appendFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AvroDeserializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { Consumer, stringDeserializer } from '@platformatic/kafka';
import avro from 'avsc';
import t, { type Test } from 'tap';
import { schemaFingerprint } from '../../src/topics/schema-ids';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validImpression } from '../helpers/gateway';
import { startServe } from '../helpers/process';
import { uniquePrefix } from '../kafka/kafka-helpers';

function topicsCopy(t: Test): string {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  cpSync(TOPICS_DIR, dir, { recursive: true });
  return dir;
}

const fingerprintOf = (schema: unknown) => schemaFingerprint(avro.Type.forSchema(schema as avro.Schema));

t.test('external registry', async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('external-registry');
  const template = `${prefix}.{service}.{topic}`;

  // The other registry: ids 101, 102 for widget/impression; its shop/order-placed v1 is another schema.
  const otherTopics = topicsCopy(t);
  const impression = JSON.parse(readFileSync(join(TOPICS_DIR, 'widget/impression/v1.avsc'), 'utf8'));
  const impressionV2 = JSON.parse(readFileSync(join(TOPICS_DIR, 'widget/impression/v2.avsc'), 'utf8'));
  writeFileSync(join(otherTopics, 'widget/impression/schema-ids.yaml'), `v1: { id: 101, fingerprint: "${fingerprintOf(impression)}" }\nv2: { id: 102, fingerprint: "${fingerprintOf(impressionV2)}" }\n`);
  const otherOrder = JSON.parse(readFileSync(join(TOPICS_DIR, 'shop/order-placed/v1.avsc'), 'utf8'));
  otherOrder.fields.push({ name: 'channel', type: 'string' });
  writeFileSync(join(otherTopics, 'shop/order-placed/v1.avsc'), JSON.stringify(otherOrder));
  writeFileSync(join(otherTopics, 'shop/order-placed/schema-ids.yaml'), `v1: { id: 103, fingerprint: "${fingerprintOf(otherOrder)}" }\n`);
  const otherDir = tempDir();
  t.teardown(() => removeDir(otherDir));
  const otherConfig = join(otherDir, 'gateway.yaml');
  writeFileSync(otherConfig, `destinations:\n  kafka: { type: kafka, brokers: ["127.0.0.1:1"], topic: "${template}" }\n  local: { type: file }\n`);
  const other = await startServe({ GATEWAY_TOPICS_DIR: otherTopics, GATEWAY_DATA_DIR: join(otherDir, 'data') }, ['--config', otherConfig]);
  t.teardown(() => other.stop());
  const registryUrl = `${other.admin}/schema-registry`;

  const kafka = (extra: Record<string, unknown> = {}) => ({
    kafka: { type: 'kafka', brokers, topic: template, valueFormat: 'confluent-avro', createTopics: { enabled: true, numPartitions: 1, replicationFactor: 1 }, ...extra },
  });
  const started = async (t: Test, topicsDir: string, schemaRegistry: Record<string, unknown>) => {
    const { gateway, dataDir } = testGateway({ topicsDir, destinations: kafka(), schemaRegistry });
    t.teardown(async () => {
      await gateway.close();
      removeDir(dataDir);
    });
    return { gateway, start: () => gateway.start() };
  };

  t.test('ids are the registry\'s, and a consumer pointed at it decodes every value', async (t) => {
    const ours = topicsCopy(t);
    appendFileSync(join(ours, 'shop/order-placed/topic.yaml'), '\ndestinationOptions:\n  kafka: { valueFormat: avro }\n');
    const { start } = await started(t, ours, { url: registryUrl, mode: 'check' });
    const { port } = await start();
    const events = [validImpression({ widgetId: 'ext-1' }), validImpression({ widgetId: 'ext-2', referrer: 'https://r.example/' })];
    for (const v of [1, 2]) {
      const response = await fetch(`http://127.0.0.1:${port}/v1/events/widget/impression?v=${v}`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(events[v - 1]) });
      t.equal(response.status, 200, await response.text());
    }
    const consumer = new Consumer({ clientId: 'ext', groupId: uniquePrefix('ext'), bootstrapBrokers: brokers, deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer } });
    t.teardown(() => consumer.close(true));
    const records: { topic: string; key: string; value: Buffer }[] = [];
    const stream = await consumer.consume({ topics: [`${prefix}.widget.impression`], mode: 'earliest', autocommit: false, maxWaitTime: 100 });
    stream.on('data', (m) => records.push({ topic: m.topic, key: m.key, value: m.value }));
    for (let i = 0; i < 200 && records.length < 2; i++) await sleep(100);
    await stream.close();
    t.same(records.map((r) => [r.key, r.value.readUInt32BE(1)]).sort(), [['ext-1', 101], ['ext-2', 102]], 'the registry\'s ids, not topics/\'s 1 and 2');
    const deserializer = new AvroDeserializer(new SchemaRegistryClient({ baseURLs: [registryUrl] }), SerdeType.VALUE, {});
    for (const record of records) {
      const decoded = (await deserializer.deserialize(record.topic, record.value)) as Record<string, unknown>;
      const sent = events.find((e) => e.widgetId === record.key)!;
      for (const [field, value] of Object.entries(sent)) t.same(decoded[field], value, `${record.key}.${field}`);
    }
  });

  t.test('a subject holding another schema: the gateway refuses to start, naming the subject', async (t) => {
    const { start } = await started(t, topicsCopy(t), { url: registryUrl, mode: 'check' });
    await t.rejects(start(), new RegExp(`subject ${prefix.replace(/[.-]/g, '\\$&')}\\.shop\\.order-placed-value does not hold shop/order-placed v1`));
  });

  t.test('register mode: a version the registry lacks is offered to it; a registry that refuses (this one is read-only) stops the start with its answer', async (t) => {
    const ours = topicsCopy(t);
    appendFileSync(join(ours, 'shop/order-placed/topic.yaml'), '\ndestinationOptions:\n  kafka: { valueFormat: avro }\n');
    const v3 = { ...impressionV2, fields: [...impressionV2.fields, { name: 'slot', type: ['null', 'string'], default: null }] };
    writeFileSync(join(ours, 'widget/impression/v3.avsc'), JSON.stringify(v3));
    appendFileSync(join(ours, 'widget/impression/schema-ids.yaml'), `v3: { id: 9, fingerprint: "${fingerprintOf(v3)}" }\n`);
    // This registry is read-only, so registering is refused (42205): the start stops and says why.
    const { start } = await started(t, ours, { url: registryUrl, mode: 'register' });
    await t.rejects(start(), /refuses widget\/impression v3 under subject .*\.widget\.impression-value \(registering it; HTTP 422 42205: schemas are changed in topics\//);
  });

  t.test('an unreachable registry stops the start, naming the key', async (t) => {
    const { start } = await started(t, topicsCopy(t), { url: 'http://127.0.0.1:1/registry', requestTimeoutMs: 500 });
    await t.rejects(start(), /schema registry http:\/\/127\.0\.0\.1:1\/registry: cannot reach it for subject .*schemaRegistry\.url/);
  });
});

// A registry double stands beside the real registry above, for what a read-only one cannot
// show: registration of missing versions, oldest first, with basic auth; and a 409.
t.test('register mode against a registry double: lookups, then registrations in version order, with basic auth; 409 stops the start', async (t) => {
  const calls: { method: string; url: string; authorization?: string; schema: string }[] = [];
  let conflict = false;
  const double = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      calls.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, schema: JSON.parse(body).schema });
      response.setHeader('content-type', 'application/vnd.schemaregistry.v1+json');
      if (!request.url!.endsWith('/versions')) {
        response.statusCode = 404;
        response.end(JSON.stringify({ error_code: 40401, message: 'Subject not found.' }));
      } else if (conflict) {
        response.statusCode = 409;
        response.end(JSON.stringify({ error_code: 409, message: 'Schema being registered is incompatible with an earlier schema' }));
      } else {
        response.end(JSON.stringify({ id: 500 + calls.filter((c) => c.url.endsWith('/versions')).length }));
      }
    });
  });
  double.listen(0, '127.0.0.1');
  await once(double, 'listening');
  t.teardown(() => double.close());
  const url = `http://127.0.0.1:${(double.address() as AddressInfo).port}/sr`;
  const ours = topicsCopy(t);
  appendFileSync(join(ours, 'shop/order-placed/topic.yaml'), '\ndestinationOptions:\n  kafka: { valueFormat: avro }\n');
  const gatewayWith = (t: Test) => {
    const { gateway, dataDir } = testGateway({
      topicsDir: ours,
      destinations: { kafka: { type: 'kafka', brokers: ['127.0.0.1:1'], valueFormat: 'confluent-avro' } },
      schemaRegistry: { url, username: 'gw', password: 's3cret' },
    });
    t.teardown(async () => {
      await gateway.close();
      removeDir(dataDir);
    });
    return gateway;
  };
  await gatewayWith(t).start();
  const v1 = JSON.stringify(JSON.parse(readFileSync(join(TOPICS_DIR, 'widget/impression/v1.avsc'), 'utf8')));
  const v2 = JSON.stringify(JSON.parse(readFileSync(join(TOPICS_DIR, 'widget/impression/v2.avsc'), 'utf8')));
  t.same(
    calls.map((c) => [c.method, c.url, c.schema]),
    [
      ['POST', '/sr/subjects/widget.impression-value', v1],
      ['POST', '/sr/subjects/widget.impression-value/versions', v1],
      ['POST', '/sr/subjects/widget.impression-value', v2],
      ['POST', '/sr/subjects/widget.impression-value/versions', v2],
    ],
  );
  t.ok(calls.every((c) => c.authorization === `Basic ${Buffer.from('gw:s3cret').toString('base64')}`), 'basic auth on every call');

  conflict = true;
  await t.rejects(gatewayWith(t).start(), /refuses widget\/impression v1 under subject widget\.impression-value \(it holds a schema this version is incompatible with; HTTP 409 409: Schema being registered is incompatible/);
});
