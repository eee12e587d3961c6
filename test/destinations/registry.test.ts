// The destination registry: every registered type's descriptor is sound, the config and the
// core take their types from it (error messages, env order, batch defaults, metrics, topic
// options), and a type the core has never heard of works end to end from a test registry.
import { appendFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import Ajv from 'ajv';
import pino from 'pino';
import { Counter, type Registry } from 'prom-client';
import t from 'tap';
import { batchConfigFor, buildConfig } from '../../src/config/config';
import { createDestination } from '../../src/destinations/create-destination';
import type { Destination, DestinationContext, RecordFailure } from '../../src/destinations/destination';
import { topicOptions, type DestinationType } from '../../src/destinations/destination-type';
import { destinationOptionsSchema, destinationRegistry, type DestinationRegistry } from '../../src/destinations/registry';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { Gateway } from '../../src/gateway';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicsTree } from '../../src/topics/registry';
import { metricValue, removeDir, SERVICE_AUTH, tempDir, TEST_SERVICE_KEY, TOPICS_DIR, validOrder } from '../helpers/gateway';

const silent = pino({ level: 'silent' });
const typeNames = (registry: DestinationRegistry) => registry.types.map((type) => type.type);

/** Every subschema that declares a default, with its path. */
function defaults(schema: TSchema, path: string): { path: string; schema: TSchema; value: unknown }[] {
  const found: { path: string; schema: TSchema; value: unknown }[] = [];
  if ('default' in schema) found.push({ path, schema, value: schema.default });
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) found.push(...defaults(child, `${path}.${key}`));
  return found;
}

t.test('every registered type: its schema takes its own defaults, and its descriptor is complete', async (t) => {
  const ajv = new Ajv({ strict: false });
  t.ok(destinationRegistry.types.length >= 3);
  t.equal(new Set(typeNames(destinationRegistry)).size, destinationRegistry.types.length, 'type names are unique');
  for (const type of destinationRegistry.types) {
    t.match(type.type, /^[a-z][a-z0-9-]*$/, `${type.type}: a plain type name`);
    t.equal(type.schema.additionalProperties, false, `${type.type}: unknown keys are refused`);
    t.notOk('type' in type.schema.properties || 'batch' in type.schema.properties, `${type.type}: type and batch are the core's keys`);
    const found = defaults(type.schema, type.type);
    for (const { path, schema, value } of found) t.ok(ajv.validate(schema, value), `${path}: default ${JSON.stringify(value)} is valid (${ajv.errorsText()})`);
    if (type.topicOptions) t.equal(type.topicOptions.additionalProperties, false, `${type.type}: unknown topic options are refused`);
    if (type.batchDefaults) {
      // The gateway's own batch schema bounds these, as it bounds an entry's `batch`.
      t.doesNotThrow(() => buildConfig({ batch: type.batchDefaults }, {}), `${type.type}: batch defaults are within the batch schema`);
    }
  }
  t.ok(defaults(destinationRegistry.types.find((type) => type.type === 'kafka')!.schema, 'kafka').length > 0, 'the walk finds defaults');
});

t.test('an unknown type is refused, naming the types of the registry in use', async (t) => {
  t.throws(() => buildConfig({ destinations: { d: { type: 'ftp' } } }, {}), new RegExp(`destinations\\.d\\.type must be one of ${typeNames(destinationRegistry).join(', ')}`));
  const registry: DestinationRegistry = { types: [fakeType('alpha'), fakeType('beta')], embeddedDefault: { a: { type: 'alpha' } } };
  t.throws(() => buildConfig({ destinations: { d: { type: 'file' } } }, {}, registry), /destinations\.d\.type must be one of alpha, beta/);
  const config = buildConfig({ destinations: { d: { type: 'alpha' } } }, {}, registry);
  t.throws(() => createDestination('d', { type: 'file' }, config, new GatewayMetrics(), silent, registry), /destinations\.d\.type must be one of alpha, beta/);
});

t.test('environment variables are applied in registry order, which is the default route', async (t) => {
  const env = { ALPHA: 'on', BETA: 'on' };
  const forward: DestinationRegistry = { types: [fakeType('alpha'), fakeType('beta')], embeddedDefault: {} };
  const backward: DestinationRegistry = { types: [fakeType('beta'), fakeType('alpha')], embeddedDefault: {} };
  t.same(buildConfig({}, env, forward).defaultRoute, ['alpha-env', 'beta-env']);
  t.same(buildConfig({}, env, backward).defaultRoute, ['beta-env', 'alpha-env']);

  // The real registry: Kafka's destination, then one per Firehose stream, in that order.
  const types = typeNames(destinationRegistry);
  t.ok(types.indexOf('file') < types.indexOf('kafka') && types.indexOf('kafka') < types.indexOf('firehose'), 'file, kafka, …, firehose');
  const config = buildConfig({}, { KAFKA_BROKERS: 'k:9092', FIREHOSE_STREAMS: 'a, b' });
  t.same(Object.keys(config.destinations), ['kafka', 'firehose-a', 'firehose-b']);
  t.same(config.defaultRoute, ['kafka', 'firehose-a', 'firehose-b']);
  // A file that names destinations keeps them; FIREHOSE_STREAMS adds no chain to it.
  t.same(Object.keys(buildConfig({ destinations: { local: { type: 'file' } } }, { FIREHOSE_STREAMS: 'a' }).destinations), ['local']);
  // Nothing named anywhere: the registry's embedded default.
  t.same(buildConfig({}, {}).destinations, destinationRegistry.embeddedDefault);
  t.same(buildConfig({ destinations: {} }, { KAFKA_CLIENT_ID: 'x' }).destinations, destinationRegistry.embeddedDefault);
});

t.test('batch defaults and finish() come from the entry\'s type', async (t) => {
  const registry: DestinationRegistry = { types: [memoryType], embeddedDefault: {} };
  const config = buildConfig({ batch: { maxRecords: 500 }, destinations: { m: { type: 'memory', shelf: 'main' }, n: { type: 'memory', shelf: 'other', batch: { maxRecords: 9 } } } }, {}, registry);
  t.equal(batchConfigFor(config, 'm', registry).maxRecords, 7, "the type's default over the gateway's");
  t.equal(batchConfigFor(config, 'n', registry).maxRecords, 9, "the entry's own over the type's");
  t.equal(batchConfigFor(config, 'm', registry).lingerMs, config.batch.lingerMs, "the gateway's where the type says nothing");
  t.equal(config.destinations.m.capacity, 100, 'schema defaults filled in');
  t.throws(() => buildConfig({ destinations: { m: { type: 'memory', shelf: 'main', capacity: 3 } } }, {}, registry), /destinations\.m: capacity \(3\) must be at least batch\.maxRecords \(7\)/);
  t.throws(() => buildConfig({ destinations: { m: { type: 'memory' } } }, {}, registry), /destinations\.m must have required property 'shelf'/);
});

t.test('a type the core does not know works end to end from a test registry: config, topic options, gateway, metrics', async (t) => {
  const registry: DestinationRegistry = { types: [memoryType], embeddedDefault: {} };
  const dataDir = tempDir();
  const topicsDir = tempDir();
  t.teardown(() => {
    removeDir(dataDir);
    removeDir(topicsDir);
  });
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  appendFileSync(join(topicsDir, 'shop/order-placed/topic.yaml'), '\ndestinationOptions:\n  memory: { bin: orders }\n');
  const config = buildConfig(
    {
      topicsDir,
      dataDir,
      logLevel: 'silent',
      spool: { enabled: false },
      server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1' },
      auth: { keys: [{ key: TEST_SERVICE_KEY, scopes: ['*'] }] },
    },
    { MEMORY_SHELVES: 'left,right' },
    registry,
  );
  t.same(config.defaultRoute, ['memory-left', 'memory-right']);
  const gateway = new Gateway(config, undefined, { destinationTypes: registry });
  t.teardown(() => gateway.close());
  await gateway.start();
  const answer = await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify([validOrder(), validOrder({ orderId: 'o-2' })]) });
  t.equal(answer.statusCode, 200, answer.body);
  const left = MemoryDestination.made.get(gateway.metrics.registry)!.find((d) => d.name === 'memory-left')!;
  t.same(left.stored.map((e) => e.data.orderId), ['o-1', 'o-2'], 'delivered to the head of the default route');
  t.same(left.bins.get('shop/order-placed'), 'orders', 'the topic options reach the destination through topicOptions()');
  t.equal(left.bins.get('widget/impression'), undefined, 'a topic without options has none');
  const text = await gateway.metrics.render();
  t.equal(metricValue(text, 'tracking_gateway_test_memory_batches_total', { destination: 'memory-left' }), 1, "the type's own metric, made once for both destinations");
  t.equal(metricValue(text, 'tracking_gateway_destination_records_total', { destination: 'memory-left', outcome: 'delivered' }), 2);
});

t.test('topic options: validated by the schema the registry builds, per type', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  cpSync(TOPICS_DIR, dir, { recursive: true });
  const file = join(dir, 'shop/order-placed/topic.yaml');
  appendFileSync(file, '\ndestinationOptions:\n  memory: { bin: Orders, colour: red }\n  kafka: { topic: orders }\n');
  const memoryOnly = destinationOptionsSchema({ types: [memoryType], embeddedDefault: {} });
  const problems = loadTopicsTree(dir, memoryOnly).problems.join('\n');
  t.match(problems, /destinationOptions\.memory: unknown key "colour"/);
  t.match(problems, /destinationOptions\.memory\.bin must match pattern/);
  t.match(problems, /destinationOptions: unknown key "kafka"/, "a type the registry lacks has no options");
  t.match(loadTopicsTree(dir).problems.join('\n'), /destinationOptions: unknown key "memory"/, 'without a schema, no options at all');

  const real = loadTopicsTree(TOPICS_DIR, destinationOptionsSchema(destinationRegistry));
  t.same(real.problems, []);
  t.same(real.topics[0].config.destinationOptions, {}, 'absent: an empty map');
  const kafka = destinationRegistry.types.find((type) => type.type === 'kafka')!;
  t.equal(topicOptions(real.topics[0], kafka), undefined);
});

/** A type that adds `<type>-env` when the variable named after it (ALPHA, BETA) is set. */
function fakeType(type: string): DestinationType {
  return {
    type,
    schema: Type.Object({}, { additionalProperties: false }),
    env: {
      apply(destinations, env, fromFile) {
        if (!fromFile && env[type.toUpperCase()]) destinations[`${type}-env`] = { type };
      },
      variableFor: () => undefined,
    },
    create: (name) => new MemoryDestination(name, { shelf: name, capacity: 1 }, undefined),
  };
}

const memorySchema = Type.Object(
  {
    shelf: Type.String({ minLength: 1 }),
    capacity: Type.Optional(Type.Integer({ minimum: 1, default: 100 })),
  },
  { additionalProperties: false },
);
const memoryTopicOptions = Type.Object({ bin: Type.String({ pattern: '^[a-z]+$' }) }, { additionalProperties: false });

function memoryMetrics(registry: Registry) {
  return new Counter({ name: 'tracking_gateway_test_memory_batches_total', help: 'Batches a memory destination took.', labelNames: ['destination'] as const, registers: [registry] });
}

/** Keeps what it is sent, in memory; remembers the bin each routed topic asked for. */
class MemoryDestination implements Destination {
  /** Every destination made, by the metrics registry of its gateway, for the test to find. */
  static readonly made = new Map<Registry, MemoryDestination[]>();
  readonly type = 'memory';
  readonly maxRecordBytes = 1_000_000;
  readonly stored: GatewayEvent[] = [];
  readonly bins = new Map<string, string>();
  constructor(
    readonly name: string,
    readonly entry: { shelf: string; capacity?: number },
    private readonly batches: Counter | undefined,
  ) {}
  async start({ topics }: DestinationContext): Promise<void> {
    for (const topic of topics) {
      const bin = topicOptions(topic, memoryType)?.bin;
      if (bin) this.bins.set(`${topic.service}/${topic.name}`, bin);
    }
  }
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    this.stored.push(...events);
    this.batches?.labels(this.name).inc();
    return [];
  }
  isHealthy(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

const memoryType: DestinationType<typeof memorySchema, Counter, typeof memoryTopicOptions> = {
  type: 'memory',
  schema: memorySchema,
  topicOptions: memoryTopicOptions,
  batchDefaults: { maxRecords: 7 },
  env: {
    apply(destinations, env) {
      for (const shelf of (env.MEMORY_SHELVES ?? '').split(',').filter(Boolean)) destinations[`memory-${shelf}`] = { type: 'memory', shelf };
    },
    variableFor: (key) => (/^destinations\.memory-[^.]+\.shelf$/.test(key) ? 'MEMORY_SHELVES' : undefined),
  },
  finish(entry, batch) {
    const capacity = entry.capacity ?? 100;
    return capacity < batch.maxRecords ? [`capacity (${capacity}) must be at least batch.maxRecords (${batch.maxRecords})`] : [];
  },
  metrics: memoryMetrics,
  create(name, entry, { metrics, gatewayMetrics }) {
    const destination = new MemoryDestination(name, entry, metrics);
    const made = MemoryDestination.made.get(gatewayMetrics.registry) ?? [];
    MemoryDestination.made.set(gatewayMetrics.registry, [...made, destination]);
    return destination;
  },
};
