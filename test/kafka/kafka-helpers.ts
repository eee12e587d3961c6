import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, stringDeserializer } from '@platformatic/kafka';
import type { Gateway } from '../../src/gateway';
import type { TopicRegistry } from '../../src/topics/registry';
import { metricValue } from '../helpers/gateway';

/** A prefix no other test's Kafka topics share, as tests of a run share one broker. */
export function uniquePrefix(name: string): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  key: string;
  headers: Record<string, string>;
  /** The value decoded with the schema version `ce_dataschema` names. */
  data: Record<string, unknown>;
  /** The value's bytes, as the producer sent them. */
  value: Buffer;
  version: number;
}

const DATASCHEMA = /^\/v1\/topics\/([^/]+)\/([^/]+)\/versions\/([0-9]+)$/;

/**
 * Reads every record of `topics` from the beginning with a consumer of its own, until
 * `expected` records came or `timeoutMs` passed (then it returns what it has), and decodes each
 * value with avsc using the version in its `ce_dataschema` header. The consumer decompresses
 * every codec the producer offers.
 */
export async function consumeAll(brokers: string[], topics: string[], registry: TopicRegistry, expected: number, timeoutMs = 20_000): Promise<ConsumedRecord[]> {
  const consumer = new Consumer({
    clientId: 'test-consumer',
    groupId: uniquePrefix('test-consumer'),
    bootstrapBrokers: brokers,
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
  });
  const records: ConsumedRecord[] = [];
  let failure: Error | undefined;
  try {
    const stream = await consumer.consume({ topics, mode: 'earliest', autocommit: false, maxWaitTime: 100 });
    stream.on('data', (message) => {
      const { topic, partition } = message;
      const headers = Object.fromEntries(message.headers) as Record<string, string>;
      const [, service, name, version] = DATASCHEMA.exec(headers.ce_dataschema) ?? [];
      const type = registry.get(service, name)?.versions.get(Number(version))?.type;
      if (!type) {
        failure ??= new Error(`record at ${topic}/${partition}@${message.offset}: ce_dataschema "${headers.ce_dataschema}" names no known version`);
        return;
      }
      records.push({ topic, partition, key: message.key ?? '', headers, data: type.fromBuffer(message.value), value: message.value, version: Number(version) });
    });
    stream.on('error', (err: Error) => (failure ??= err));
    const deadline = Date.now() + timeoutMs;
    while (records.length < expected && Date.now() < deadline && !failure) await sleep(100);
    // A moment longer, so that records beyond the expected count (duplicates) are seen too.
    await sleep(500);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  if (failure) throw failure;
  return records;
}

/** Waits until the gateway counted `count` records delivered to `destination`. */
export async function waitDelivered(gateway: Gateway, destination: string, count: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let delivered = 0;
  while (Date.now() < deadline) {
    delivered = metricValue(await gateway.metrics.render(), 'tracking_gateway_destination_records_total', { destination, outcome: 'delivered' });
    if (delivered >= count) break;
    await sleep(50);
  }
  return delivered;
}
