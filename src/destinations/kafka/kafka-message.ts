import type { IHeaders, Message } from 'kafkajs';
import type { GatewayEvent } from '../../envelope/envelope';
import type { Topic } from '../../topics/registry';
import { RECORD_BATCH_OVERHEAD_BYTES, RECORD_OVERHEAD_BYTES } from './limits';

// One event as one Kafka record, in the CloudEvents Kafka protocol binding's binary mode:
// the value is the data alone (the Avro binary datum of the declared schema version) and
// every attribute travels as a `ce_` header.
// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md#32-binary-content-mode

export const AVRO_CONTENT_TYPE = 'application/avro';
const SPEC_VERSION = '1.0';

/**
 * Key: the topic's partition key value, else the event id, so that retries of one event land
 * in one partition. Timestamp: the receive time, which (unlike client event time) never sits
 * hours in the past, so broker retention and time indexes behave.
 */
export function toKafkaMessage(event: GatewayEvent): Message {
  const schema = event.schema;
  const headers: IHeaders = {
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
    key: event.key ?? event.id,
    value: schema.type.toBuffer(event.data),
    headers,
    timestamp: String(event.receivedAt),
  };
}

/** An upper bound on the bytes the record takes in a batch of its own, before compression. */
export function recordBytes(message: Message): number {
  let bytes = RECORD_BATCH_OVERHEAD_BYTES + RECORD_OVERHEAD_BYTES + (message.value as Buffer).length + Buffer.byteLength(message.key as string);
  for (const [name, value] of Object.entries(message.headers as Record<string, string>)) {
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
