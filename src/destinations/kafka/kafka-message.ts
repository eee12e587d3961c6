import type { MessageToProduce } from '@platformatic/kafka';
import type { GatewayEvent } from '../../envelope/envelope';
import type { Topic } from '../../topics/registry';
import { topicOptions } from '../destination-type';
import { DEFAULT_VALUE_FORMAT, KAFKA, kafkaTopicOptions, type KafkaValueFormat } from './config';
import { RECORD_BATCH_OVERHEAD_BYTES, RECORD_OVERHEAD_BYTES } from './limits';

// One event as one Kafka record, in the CloudEvents Kafka protocol binding's binary mode:
// the value is the data alone (the Avro binary datum of the declared schema version) and
// every attribute travels as a `ce_` header.
// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md#32-binary-content-mode

export const AVRO_CONTENT_TYPE = 'application/avro';

/** A record as the producer sends it: key, value and headers already bytes (no serialiser runs). */
export type KafkaMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer> & { key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> };

// Header names and the values many records share are encoded once and the same Buffer is
// given to every record: a batch of 10,000 events otherwise allocates 16 small Buffers per
// event, and the garbage collector was the largest share of a worker's time under Kafka load.
const text = (value: string) => Buffer.from(value, 'utf8');
const NAMES = {
  specversion: text('ce_specversion'),
  id: text('ce_id'),
  type: text('ce_type'),
  source: text('ce_source'),
  time: text('ce_time'),
  dataschema: text('ce_dataschema'),
  contentType: text('content-type'),
  receivedtime: text('ce_receivedtime'),
  clientip: text('ce_clientip'),
  useragent: text('ce_useragent'),
};
const SPEC_VERSION = text('1.0');
const CONTENT_TYPE = text(AVRO_CONTENT_TYPE);

/** Bytes of strings that repeat across records (types, sources, schemas, user agents); bounded, cleared when full. */
const MAX_CACHED_TEXTS = 10_000;
const texts = new Map<string, Buffer>();
function shared(value: string): Buffer {
  let bytes = texts.get(value);
  if (bytes === undefined) {
    if (texts.size >= MAX_CACHED_TEXTS) texts.clear();
    bytes = text(value);
    texts.set(value, bytes);
  }
  return bytes;
}

/** RFC 3339 bytes of a time in ms; the records of one request (and of one busy millisecond) share theirs. */
const timeBytes = (() => {
  let lastMs = NaN;
  let last = Buffer.alloc(0);
  return (ms: number): Buffer => {
    if (ms !== lastMs) {
      last = text(new Date(ms).toISOString());
      lastMs = ms;
    }
    return last;
  };
})();

/**
 * Key: the topic's partition key value, else the event id, so that retries of one event land
 * in one partition. Timestamp: the receive time, which (unlike client event time) never sits
 * hours in the past, so broker retention and time indexes behave. Value: the datum the client
 * sent when it came as Avro in this very version (the same bytes, not decoded and encoded
 * again), else the validated data encoded. The topic is set by the destination.
 */
export function toKafkaMessage(event: GatewayEvent, topic = '', wirePrefix?: Buffer): KafkaMessage {
  const schema = event.schema;
  const received = timeBytes(event.receivedAt);
  const headers = new Map<Buffer, Buffer>([
    [NAMES.specversion, SPEC_VERSION],
    [NAMES.id, text(event.id)],
    [NAMES.type, shared(schema.cloudEventType)],
    [NAMES.source, shared(event.source)],
    [NAMES.time, event.eventTime === undefined ? received : text(new Date(event.eventTime).toISOString())],
    [NAMES.dataschema, shared(schema.dataschema)],
    [NAMES.contentType, CONTENT_TYPE],
    [NAMES.receivedtime, received],
  ]);
  if (event.clientIp !== undefined) headers.set(NAMES.clientip, text(event.clientIp));
  if (event.userAgent !== undefined) headers.set(NAMES.useragent, shared(event.userAgent));
  return {
    topic,
    key: event.key === undefined ? text(event.id) : text(event.key),
    value: wirePrefix === undefined ? (event.datum ?? schema.type.toBuffer(event.data)) : confluentValue(wirePrefix, event),
    headers,
    timestamp: BigInt(event.receivedAt),
  };
}

/**
 * Confluent's wire format: magic byte 0, the schema's registry id as 4 bytes big-endian, the datum.
 * https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format
 */
export const CONFLUENT_MAGIC_BYTE = 0;
export const CONFLUENT_PREFIX_BYTES = 5;

/** The 5 bytes that start every value of one schema id. */
export function confluentPrefix(schemaId: number): Buffer {
  const prefix = Buffer.alloc(CONFLUENT_PREFIX_BYTES);
  prefix.writeUInt8(CONFLUENT_MAGIC_BYTE, 0);
  prefix.writeUInt32BE(schemaId, 1);
  return prefix;
}

/**
 * Scratch for datums encoded here: each is encoded behind the prefix and copied out once, as
 * avsc's toBuffer would copy it out of its own. Grows to the largest event (bounded by the
 * topics' maxEventBytes), never shrinks.
 */
let scratch = Buffer.allocUnsafe(16 * 1024);

/** The prefix, then the client's own datum bytes when it sent Avro (copied, not re-encoded), else the data encoded. */
function confluentValue(prefix: Buffer, event: GatewayEvent): Buffer {
  const datum = event.datum;
  if (datum !== undefined) {
    const value = Buffer.allocUnsafe(CONFLUENT_PREFIX_BYTES + datum.length);
    prefix.copy(value, 0);
    datum.copy(value, CONFLUENT_PREFIX_BYTES);
    return value;
  }
  const type = event.schema.type;
  let end = type.encode(event.data, scratch, CONFLUENT_PREFIX_BYTES);
  if (end < 0) {
    // encode answers how many bytes were missing, negated.
    scratch = Buffer.allocUnsafe(Math.max(2 * scratch.length, scratch.length - end));
    end = type.encode(event.data, scratch, CONFLUENT_PREFIX_BYTES);
  }
  prefix.copy(scratch, 0);
  const value = Buffer.allocUnsafe(end);
  scratch.copy(value, 0, 0, end);
  return value;
}

/** An upper bound on the bytes the record takes in a batch of its own, before compression. */
export function recordBytes(message: KafkaMessage): number {
  let bytes = RECORD_BATCH_OVERHEAD_BYTES + RECORD_OVERHEAD_BYTES + message.value.length + message.key.length;
  for (const [name, value] of message.headers) bytes += name.length + value.length + 10;
  return bytes;
}

/** The Kafka topic of a gateway topic: its own `destinationOptions.kafka.topic`, else the destination's template. */
export function kafkaTopicName(service: string, topic: string, template: string, override?: string): string {
  return override ?? template.replaceAll('{service}', service).replaceAll('{topic}', topic);
}

// The kafka type's name and topic options, not kafkaType itself: kafka-type.ts imports this
// folder's destination, which imports this file.
const KAFKA_OPTIONS = { type: KAFKA, topicOptions: kafkaTopicOptions };

export function kafkaTopicOf(topic: Topic, template: string): string {
  return kafkaTopicName(topic.service, topic.name, template, topicOptions(topic, KAFKA_OPTIONS)?.topic);
}

/** A topic's value format on a destination: its own `destinationOptions.kafka.valueFormat`, else the destination's. */
export function valueFormatOf(topic: Topic, destinationDefault: KafkaValueFormat | undefined): KafkaValueFormat {
  return topicOptions(topic, KAFKA_OPTIONS)?.valueFormat ?? destinationDefault ?? DEFAULT_VALUE_FORMAT;
}

/** Schema Registry subject of a Kafka topic's values (TopicNameStrategy). */
export function valueSubject(kafkaTopic: string): string {
  return `${kafkaTopic}-value`;
}
