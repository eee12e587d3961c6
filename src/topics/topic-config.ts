import Ajv from 'ajv';
import type { RateRule } from '../limits/token-buckets';

// The topic config file (`topic.yaml`, `topic.yml` or `topic.json`) beside a topic's schemas.

/** Largest event a topic may allow: Firehose takes at most 1,000 KiB per record. */
export const MAX_EVENT_BYTES_LIMIT = 1_000 * 1024;
export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024;

export interface TopicConfig {
  description?: string;
  /** `public`: browsers may send beacons from `allowedOrigins`; `service`: only /v1/events. */
  access: 'public' | 'service';
  allowedOrigins: string[];
  defaultVersion: number;
  partitionKey?: string;
  maxEventBytes: number;
  /** Destination names, in fallback order; empty means the gateway's default route. */
  route: string[];
  /** Kafka topic name; `<service>.<topic>` when absent. */
  kafkaTopic?: string;
  /**
   * Public topics: when set, a beacon must name one (`?k=` or `X-Publishable-Key`). It only
   * says which site sent it — a key in a page is public — so origins are still checked.
   */
  publishableKeys: string[];
  /** This topic's own per-client-address limit, instead of the gateway's `rateLimit.perIp`. */
  rateLimit?: { perIp: RateRule };
}

export const TOPIC_CONFIG_FILES = ['topic.yaml', 'topic.yml', 'topic.json'];

export const topicConfigSchema = {
  $id: 'https://tracking-gateway/topic-config.json',
  type: 'object',
  additionalProperties: false,
  required: ['access', 'defaultVersion'],
  properties: {
    description: { type: 'string' },
    access: { enum: ['public', 'service'] },
    allowedOrigins: {
      type: 'array',
      items: { type: 'string', pattern: '^(\\*|https?://[^/\\s]+)$' },
      default: [],
    },
    defaultVersion: { type: 'integer', minimum: 1 },
    partitionKey: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    maxEventBytes: { type: 'integer', minimum: 64, maximum: MAX_EVENT_BYTES_LIMIT, default: DEFAULT_MAX_EVENT_BYTES },
    route: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    kafkaTopic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' },
    publishableKeys: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,128}$' }, default: [] },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      required: ['perIp'],
      properties: {
        perIp: {
          type: 'object',
          additionalProperties: false,
          required: ['requestsPerSecond'],
          properties: { requestsPerSecond: { type: 'number', minimum: 0 }, burst: { type: 'integer', minimum: 0, default: 0 } },
        },
      },
    },
  },
  if: { properties: { access: { const: 'public' } } },
  then: { required: ['allowedOrigins'], properties: { allowedOrigins: { type: 'array', minItems: 1 } } },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true });
const validateTopicConfig = ajv.compile(topicConfigSchema);

/** Validates (and fills defaults into) a parsed topic config; returns problems naming each key. */
export function checkTopicConfig(raw: unknown): { config?: TopicConfig; problems: string[] } {
  if (validateTopicConfig(raw)) return { config: raw as unknown as TopicConfig, problems: [] };
  const problems = (validateTopicConfig.errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
      if (e.keyword === 'additionalProperties') return `unknown key "${(e.params as any).additionalProperty}"`;
      if (e.keyword === 'required' && (e.params as any).missingProperty === 'allowedOrigins') {
        return 'allowedOrigins must list at least one origin for a public topic';
      }
      if (e.keyword === 'required') return `missing key "${(e.params as any).missingProperty}"`;
      if (key === 'allowedOrigins' && e.keyword === 'minItems') return 'allowedOrigins must list at least one origin for a public topic';
      return `${key || '(root)'} ${e.message}`;
    });
  return { problems };
}
