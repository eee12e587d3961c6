import type { TObject } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';
import type { RateRule } from '../limits/token-buckets';
import { routeListProblems } from '../route/route-list';
import { topicSegmentSchema, type TopicSegmentMapping } from '../segment/segment-config';

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
  /** One route: destination names in fallback order (the one-route form of `routes`). */
  route?: string[];
  /**
   * The topic's routes, each a fallback chain; every event goes down every one. Filled from
   * `route` when the file gives that; empty means the gateway's default routes.
   */
  routes: string[][];
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
  /** Which Segment API calls this topic takes (src/segment/): `track` event names, identify, page, … */
  segment?: TopicSegmentMapping;
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
    route: { type: 'array', items: { type: 'string', minLength: 1 } },
    routes: { type: 'array', items: { type: 'array', items: { type: 'string', minLength: 1 } } },
    destinationOptions,
    publishableKeys: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,128}$' }, default: [] },
    segment: topicSegmentSchema,
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
  if (validateTopicConfig(raw)) return routesOf(raw);
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

/** Checks `route` and `routes` (names are checked against the destinations when the gateway resolves them) and fills `routes`. */
function routesOf(config: TopicConfig): { config?: TopicConfig; problems: string[] } {
  if (config.route && config.routes) return { problems: ['route and routes are both given: route is the one-route form of routes; give one of them'] };
  if (config.route) {
    if (config.route.length === 0) return { config: { ...config, routes: [] }, problems: [] };
    return { config: { ...config, routes: [config.route] }, problems: [] };
  }
  const routes = config.routes ?? [];
  const problems = config.routes?.length === 0 ? ['routes is empty: name at least one route, or leave the key out for the default routes'] : routeListProblems(routes, 'routes');
  return problems.length > 0 ? { problems } : { config: { ...config, routes }, problems: [] };
}
