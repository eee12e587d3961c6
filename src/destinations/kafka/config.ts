import { Type, type Static } from '@sinclair/typebox';
import { TOPIC_NAME_MAX_LENGTH } from './limits';

/** Record batch codecs; @platformatic/kafka has them all without native builds (zstd from Node's zlib). */
export const KAFKA_COMPRESSIONS = ['gzip', 'snappy', 'lz4', 'zstd', 'none'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/**
 * A record's value: `avro`, the bare Avro binary datum (its version in `ce_dataschema`), or
 * `confluent-avro`, Confluent's wire format — magic byte 0, the 4-byte big-endian Schema
 * Registry id, then the same datum — which stock deserializers read (docs/schema-registry.md).
 */
export const KAFKA_VALUE_FORMATS = ['avro', 'confluent-avro'] as const;
export type KafkaValueFormat = (typeof KAFKA_VALUE_FORMATS)[number];
export const DEFAULT_VALUE_FORMAT: KafkaValueFormat = 'avro';

/** The type name config entries give, and the key of a topic's options for Kafka. */
export const KAFKA = 'kafka';

export const DEFAULT_TOPIC_TEMPLATE = '{service}.{topic}';
export const DEFAULT_CLIENT_ID = 'tracking-gateway';

// `enum` and `const` as plain JSON Schema (Type.Unsafe) rather than TypeBox's unions of
// literals, which would validate the same values but answer a wrong one with an anyOf list.

/** One Kafka cluster; a config may name several and route any topic to any of them. */
export const kafkaSchema = Type.Object(
  {
    /** Bootstrap addresses, host:port. */
    brokers: Type.Array(Type.String({ pattern: '^[^\\s:,]+:[0-9]{1,5}$' }), { minItems: 1 }),
    clientId: Type.Optional(Type.String({ minLength: 1, default: DEFAULT_CLIENT_ID })),
    /**
     * Kafka topic name for topics that set no `destinationOptions.kafka.topic`; `{service}` and
     * `{topic}` are replaced.
     */
    topic: Type.Optional(Type.String({ pattern: '^([A-Za-z0-9._-]|\\{service\\}|\\{topic\\})+$', maxLength: TOPIC_NAME_MAX_LENGTH, default: DEFAULT_TOPIC_TEMPLATE })),
    compression: Type.Optional(Type.Unsafe<KafkaCompression>({ enum: KAFKA_COMPRESSIONS, default: 'gzip' })),
    /** The value format of topics that set no `destinationOptions.kafka.valueFormat`. */
    valueFormat: Type.Optional(Type.Unsafe<KafkaValueFormat>({ enum: KAFKA_VALUE_FORMATS, default: DEFAULT_VALUE_FORMAT })),
    /** Always all in-sync replicas: a 2xx promises the event is replicated, so nothing else is offered. */
    acks: Type.Optional(Type.Unsafe<'all'>({ const: 'all', default: 'all' })),
    requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Unanswered produce requests per broker connection. */
    maxInFlightRequests: Type.Optional(Type.Integer({ minimum: 1 })),
    /** The brokers' (or topics') `message.max.bytes`, if not Kafka's default. */
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
    sasl: Type.Optional(
      Type.Object(
        {
          mechanism: Type.Unsafe<KafkaSaslMechanism>({ enum: KAFKA_SASL_MECHANISMS }),
          username: Type.String({ minLength: 1 }),
          password: Type.String({ minLength: 1 }),
        },
        { additionalProperties: false },
      ),
    ),
    ssl: Type.Optional(Type.Boolean({ default: false })),
    /** Create missing topics at start; else a missing topic keeps the destination unhealthy. */
    createTopics: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean(),
          // -1: the broker's num.partitions and default.replication.factor.
          numPartitions: Type.Optional(Type.Integer({ minimum: -1, not: { const: 0 }, default: -1 })),
          replicationFactor: Type.Optional(Type.Integer({ minimum: -1, not: { const: 0 }, default: -1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type KafkaConfig = Static<typeof kafkaSchema>;

/** What a topic may set for Kafka destinations: `destinationOptions.kafka` in its topic file. */
export const kafkaTopicOptions = Type.Object(
  {
    /** The Kafka topic, instead of the destination's `topic` template. */
    topic: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' })),
    /** This topic's value format, over the destination's `valueFormat`. */
    valueFormat: Type.Optional(Type.Unsafe<KafkaValueFormat>({ enum: KAFKA_VALUE_FORMATS })),
  },
  { additionalProperties: false },
);
