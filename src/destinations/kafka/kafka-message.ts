import type { MessageToProduce } from '@platformatic/kafka';
import type { GatewayEvent } from '../../envelope/envelope';
import type { Topic } from '../../topics/registry';
import { RECORD_BATCH_OVERHEAD_BYTES, RECORD_OVERHEAD_BYTES } from './limits';

// One event as one Kafka record, in the CloudEvents Kafka protocol binding's binary mode:
// the value is the data alone (the Avro binary datum of the declared schema version) and
// every attribute travels as a `ce_` header.
// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md#32-binary-content-mode

export const AVRO_CONTENT_TYPE = 'application/avro';
const SPEC_VERSION = '1.0';

/** A record before the producer serialises it: key and headers as text, the value as bytes. */
export type KafkaMessage = MessageToProduce<string, Buffer, string, string> & { key: string; value: Buffer; headers: Record<string, string> };

/**
 * Key: the topic's partition key value, else the event id, so that retries of one event land
 * in one partition. Timestamp: the receive time, which (unlike client event time) never sits
 * hours in the past, so broker retention and time indexes behave. Value: the datum the client
 * sent when it came as Avro in this very version (the same bytes, not decoded and encoded
 * again), else the validated data encoded. The topic is set by the destination.
 */
export function toKafkaMessage(event: GatewayEvent, topic = ''): KafkaMessage {
  const schema = event.schema;
  const headers: Record<string, string> = {
    ce_specversion: SPEC_VERSION,
    ce_id: event.id,
    ce_type: schema.cloudEventType,
    ce_source: event.source,
    ce_time: new Date(event.eventTime ?? event.receivedAt).toISOString(),
    ce_dataschema: schema.dataschema,
    'content-type': AVRO_CONTENT_TYPE,
    ce_receivedtime: new Date(event.receivedAt).toISOString(),
  };
  if (event.clientIp !== undefined) headers.ce_clientip = event.clientIp;
  if (event.userAgent !== undefined) headers.ce_useragent = event.userAgent;
  return {
    topic,
    key: event.key ?? event.id,
    value: event.datum ?? schema.type.toBuffer(event.data),
    headers,
    timestamp: BigInt(event.receivedAt),
  };
}

/** An upper bound on the bytes the record takes in a batch of its own, before compression. */
export function recordBytes(message: KafkaMessage): number {
  let bytes = RECORD_BATCH_OVERHEAD_BYTES + RECORD_OVERHEAD_BYTES + message.value.length + Buffer.byteLength(message.key);
  for (const [name, value] of Object.entries(message.headers)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 10;
  }
  return bytes;
}

/** The Kafka topic of a gateway topic: its own `kafkaTopic`, else the destination's template. */
export function kafkaTopicName(service: string, topic: string, template: string, override?: string): string {
  return override ?? template.replaceAll('{service}', service).replaceAll('{topic}', topic);
}

export function kafkaTopicOf(topic: Topic, template: string): string {
  return kafkaTopicName(topic.service, topic.name, template, topic.config.kafkaTopic);
}
