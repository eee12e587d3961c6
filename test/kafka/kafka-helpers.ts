import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
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
  version: number;
}

const DATASCHEMA = /^\/v1\/topics\/([^/]+)\/([^/]+)\/versions\/([0-9]+)$/;

/**
 * Reads every record of `topics` from the beginning with a consumer of its own, until
 * `expected` records came or `timeoutMs` passed (then it returns what it has), and decodes each
 * value with avsc using the version in its `ce_dataschema` header.
 */
export async function consumeAll(brokers: string[], topics: string[], registry: TopicRegistry, expected: number, timeoutMs = 20_000): Promise<ConsumedRecord[]> {
  const kafka = new Kafka({ clientId: 'test-consumer', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniquePrefix('test-consumer'), maxWaitTimeInMs: 100 });
  const records: ConsumedRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const headers = stringHeaders(message.headers ?? {});
        const [, service, name, version] = DATASCHEMA.exec(headers.ce_dataschema) ?? [];
        const type = registry.get(service, name)?.versions.get(Number(version))?.type;
        if (!type) throw new Error(`record at ${topic}/${partition}@${message.offset}: ce_dataschema "${headers.ce_dataschema}" names no known version`);
        records.push({ topic, partition, key: message.key?.toString() ?? '', headers, data: type.fromBuffer(message.value as Buffer), version: Number(version) });
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (records.length < expected && Date.now() < deadline) await sleep(100);
    // A moment longer, so that records beyond the expected count (duplicates) are seen too.
    await sleep(500);
  } finally {
    await consumer.disconnect();
  }
  return records;
}

function stringHeaders(headers: IHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
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
