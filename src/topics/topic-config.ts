import type { TObject } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';
import type { RateRule } from '../limits/token-buckets';

// The topic config file (`topic.yaml`, `topic.yml` or `topic.json`) beside a topic's schemas.

/**
 * Largest event a topic may allow, 1,000 KiB: a tracking event is held in memory, batched and
 * written whole, so a single one stays a small share of a batch and of the buffer. A
 * destination that takes less (its maxRecordBytes) is skipped for larger events, which go
 * down the route.
 */
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
  /**
   * Options for the destinations of the route, by destination type (`destinationOptions.<type>.<key>`);
   * each type declares and reads its own (DestinationType.topicOptions, topicOptions()).
   */
  destinationOptions: Record<string, unknown>;
  /**
   * Public topics: when set, a beacon must name one (`?k=` or `X-Publishable-Key`). It only
   * says which site sent it — a key in a page is public — so origins are still checked.
   */
  publishableKeys: string[];
  /** This topic's own per-client-address limit, instead of the gateway's `rateLimit.perIp`. */
  rateLimit?: { perIp: RateRule };
}

export const TOPIC_CONFIG_FILES = ['topic.yaml', 'topic.yml', 'topic.json'];

/** `destinationOptions` takes the schema the destination registry builds; by default, none. */
export const topicConfigSchema = (destinationOptions: object = { type: 'object', additionalProperties: false, default: {} }) => ({
  type: 'object',
  additionalProperties: false,
  required: ['access', 'defaultVersion'],
  properties: {
    description: { type: 'string' },
    access: { enum: ['public', 'service'] },
    allowedOrigins: {
      type: 'array',
      // An origin; `*` (any site, not `null`); `null` by name (sandboxed frames, data: pages);
      // or a loopback host on any port, for development (`http://localhost:*`).
      items: { type: 'string', pattern: '^(\\*|null|https?://(localhost|127\\.0\\.0\\.1|\\[::1\\]):\\*|https?://[^/\\s*]+)$' },
      default: [],
    },
    defaultVersion: { type: 'integer', minimum: 1 },
    partitionKey: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    maxEventBytes: { type: 'integer', minimum: 64, maximum: MAX_EVENT_BYTES_LIMIT, default: DEFAULT_MAX_EVENT_BYTES },
    route: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    destinationOptions,
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
});

const ajv = new Ajv({ allErrors: true, useDefaults: true });
const noOptions = ajv.compile<TopicConfig>(topicConfigSchema());
/** One compiled validator per options schema (in practice one per destination registry). */
const validators = new WeakMap<TObject, ValidateFunction<TopicConfig>>();

function validatorFor(destinationOptions: TObject | undefined): ValidateFunction<TopicConfig> {
  if (!destinationOptions) return noOptions;
  let validate = validators.get(destinationOptions);
  if (!validate) validators.set(destinationOptions, (validate = ajv.compile<TopicConfig>(topicConfigSchema(destinationOptions))));
  return validate;
}

/**
 * Validates (and fills defaults into) a parsed topic config; returns problems naming each key.
 * `destinationOptions`: what `destinationOptions` may hold (destinations/registry.ts builds it
 * from the destination types); without it, nothing.
 */
export function checkTopicConfig(raw: unknown, destinationOptions?: TObject): { config?: TopicConfig; problems: string[] } {
  const validateTopicConfig = validatorFor(destinationOptions);
  if (validateTopicConfig(raw)) return { config: raw, problems: [] };
  const problems = (validateTopicConfig.errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
      if (e.keyword === 'additionalProperties') return `${key ? `${key}: ` : ''}unknown key "${(e.params as any).additionalProperty}"`;
      if (e.keyword === 'required' && (e.params as any).missingProperty === 'allowedOrigins') {
        return 'allowedOrigins must list at least one origin for a public topic';
      }
      if (e.keyword === 'required') return `missing key "${(e.params as any).missingProperty}"`;
      if (key === 'allowedOrigins' && e.keyword === 'minItems') return 'allowedOrigins must list at least one origin for a public topic';
      return `${key || '(root)'} ${e.message}`;
    });
  return { problems };
}
