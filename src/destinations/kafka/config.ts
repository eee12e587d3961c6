import { TOPIC_NAME_MAX_LENGTH } from './limits';

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
/** Record batch codecs; @platformatic/kafka has them all without native builds (zstd from Node's zlib). */
export const KAFKA_COMPRESSIONS = ['gzip', 'snappy', 'lz4', 'zstd', 'none'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

/** One Kafka cluster; a config may name several and route any topic to any of them. */
export interface KafkaDestinationConfig {
  type: 'kafka';
  /** Bootstrap addresses, host:port. */
  brokers: string[];
  clientId?: string;
  /**
   * Kafka topic name for topics whose config sets no `kafkaTopic`; `{service}` and `{topic}`
   * are replaced. Default `{service}.{topic}`.
   */
  topic?: string;
  compression?: KafkaCompression;
  /** Always all in-sync replicas: a 2xx promises the event is replicated, so nothing else is offered. */
  acks?: 'all';
  requestTimeoutMs?: number;
  /** Unanswered produce requests per broker connection. */
  maxInFlightRequests?: number;
  /** The brokers' (or topics') `message.max.bytes`, if not Kafka's default. */
  maxMessageBytes?: number;
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
  ssl?: boolean;
  /** Create missing topics at start; else a missing topic keeps the destination unhealthy. */
  createTopics?: { enabled: boolean; numPartitions?: number; replicationFactor?: number };
}

export const DEFAULT_TOPIC_TEMPLATE = '{service}.{topic}';
export const DEFAULT_CLIENT_ID = 'tracking-gateway';

export const kafkaDestinationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'brokers'],
  properties: {
    type: { const: 'kafka' },
    brokers: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^\\s:,]+:[0-9]{1,5}$' } },
    clientId: { type: 'string', minLength: 1, default: DEFAULT_CLIENT_ID },
    topic: { type: 'string', pattern: '^([A-Za-z0-9._-]|\\{service\\}|\\{topic\\})+$', maxLength: TOPIC_NAME_MAX_LENGTH, default: DEFAULT_TOPIC_TEMPLATE },
    compression: { enum: KAFKA_COMPRESSIONS, default: 'gzip' },
    acks: { const: 'all', default: 'all' },
    requestTimeoutMs: { type: 'integer', minimum: 1 },
    maxInFlightRequests: { type: 'integer', minimum: 1 },
    maxMessageBytes: { type: 'integer', minimum: 1024 },
    sasl: {
      type: 'object',
      additionalProperties: false,
      required: ['mechanism', 'username', 'password'],
      properties: {
        mechanism: { enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
        username: { type: 'string', minLength: 1 },
        password: { type: 'string', minLength: 1 },
      },
    },
    ssl: { type: 'boolean', default: false },
    createTopics: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: {
        enabled: { type: 'boolean' },
        // -1: the broker's num.partitions and default.replication.factor.
        numPartitions: { type: 'integer', minimum: -1, not: { const: 0 }, default: -1 },
        replicationFactor: { type: 'integer', minimum: -1, not: { const: 0 }, default: -1 },
      },
    },
    batch: { $ref: 'batch' },
  },
} as const;

/** The destination the KAFKA_* environment variables describe. */
export const ENV_KAFKA_DESTINATION = 'kafka';

/** Environment variables that set one key each of the `kafka` destination. */
export const KAFKA_ENV_OVERRIDES: Record<string, string> = {
  KAFKA_BROKERS: 'brokers',
  KAFKA_CLIENT_ID: 'clientId',
  KAFKA_TLS: 'ssl',
  KAFKA_SASL_MECHANISM: 'sasl.mechanism',
  KAFKA_SASL_USERNAME: 'sasl.username',
  KAFKA_SASL_PASSWORD: 'sasl.password',
  KAFKA_CREATE_TOPICS: 'createTopics.enabled',
};

/**
 * Applies KAFKA_* to the raw config, before it is validated: with KAFKA_BROKERS a `kafka`
 * destination exists (created when the file has none of that name; when the file defines no
 * destination at all it is the only one, so the default route is Kafka). The other variables
 * set keys of that destination when it is there.
 */
export function applyKafkaEnv(input: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const set = Object.keys(KAFKA_ENV_OVERRIDES).filter((name) => env[name] !== undefined && env[name] !== '');
  if (set.length === 0) return;
  const destinations = (input.destinations ??= {}) as Record<string, Record<string, unknown>>;
  if (typeof destinations !== 'object' || destinations === null) return;
  if (env.KAFKA_BROKERS) destinations[ENV_KAFKA_DESTINATION] ??= { type: 'kafka' };
  const entry = destinations[ENV_KAFKA_DESTINATION];
  if (typeof entry !== 'object' || entry === null || entry.type !== 'kafka') return;
  for (const name of set) {
    const value = env[name] as string;
    const key = KAFKA_ENV_OVERRIDES[name];
    if (key === 'brokers') entry.brokers = value.split(',').map((b) => b.trim()).filter((b) => b !== '');
    else if (key.startsWith('sasl.')) entry.sasl = { ...(entry.sasl as object), [key.slice(5)]: value };
    else if (key === 'createTopics.enabled') entry.createTopics = { ...(entry.createTopics as object), enabled: value };
    else entry[key] = value;
  }
}
