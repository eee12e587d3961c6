import { readFileSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { keysFromConfig, parseKeyLines, type ConfiguredKey } from '../auth/service-keys';
import { ConfigError } from '../errors';
import type { RateRule } from '../limits/token-buckets';
import { routeListProblems } from '../route/route-list';
import type { BatchConfig, DestinationEntry, DestinationType } from '../destinations/destination-type';
import { destinationRegistry, destinationTypeOf, type DestinationRegistry } from '../destinations/registry';
import { pathProblems, pathsSchema, type PathsConfig } from '../http/paths';
import { segmentConfigSchema, type SegmentConfig } from '../segment/segment-config';

// One config file (YAML or JSON) plus environment overrides, validated once at start with
// defaults filled in, then frozen. Every error names the key.

/**
 * One entry under `destinations`: its `type`, `batch`, and the keys its type's schema
 * (src/destinations/<type>/) validated; only that type reads them.
 */
export type DestinationConfig = DestinationEntry & Record<string, unknown>;

export interface GatewayConfig {
  server: {
    host: string;
    port: number;
    adminHost: string;
    adminPort: number;
    /**
     * Take the client address from X-Forwarded-For: `true` trusts every hop, a list trusts
     * those addresses or CIDRs (the load balancers you run); only behind a proxy you run.
     */
    trustProxy: boolean | string[];
    bodyLimitBytes: number;
    /** Retry-After on 503 answers. */
    retryAfterSeconds: number;
    /** How long a service request waits for its events to become durable before a 503. */
    ackTimeoutMs: number;
    /** Largest body after Content-Encoding (and an Avro container's block codec) is undone. */
    maxDecodedBytes: number;
    /**
     * Bytes the requests of one process may be decoding at once: each reserves its body and
     * what it may inflate to before its body is read (src/http/decode-budget.ts).
     */
    decodeBudgetBytes: number;
    /** How long a request waits for room in decodeBudgetBytes before 503 OVERLOADED. */
    decodeWaitMs: number;
    maxEventsPerRequest: number;
    /** Per-event problems listed in a 422; the answer says how many more there were. */
    maxErrorsReturned: number;
    maxUrlBytes: number;
    maxHeaderBytes: number;
    /** Whole request, headers and body (408 after it). */
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** Open connections one process takes; further ones are closed at once. */
    maxConnections: number;
    /** The public routes' prefix and names (src/http/paths.ts). */
    paths: PathsConfig;
  };
  topicsDir: string;
  dataDir: string;
  /**
   * An external Schema Registry (Confluent's API) for the ids of confluent-avro values; without
   * `url`, ids come from topics/ and the admin port serves them (docs/schema-registry.md).
   */
  schemaRegistry: {
    url?: string;
    username?: string;
    password?: string;
    /** `register`: register missing versions at start; `check`: only look them up, refuse to start without them. */
    mode: 'register' | 'check';
    requestTimeoutMs: number;
  };
  envelope: {
    clientIp: 'none' | 'anonymized' | 'full';
    userAgent: boolean;
  };
  buffer: {
    /** Bytes of accepted, not yet delivered events the whole process may hold. */
    maxBytes: number;
  };
  batch: BatchConfig;
  destinations: Record<string, DestinationConfig>;
  /** Destination names in fallback order, for topics whose config names no route (the one-route form of `defaultRoutes`). */
  defaultRoute?: string[];
  /** The routes of topics whose config names none; filled from `defaultRoute` when the file gives that. */
  defaultRoutes: string[][];
  deadLetter: {
    dir?: string;
    /** A dead letter's payload is cut to this; its original size and digest are kept. */
    maxPayloadBytes: number;
    /** Disk the dead letter may take; past it dead letters are counted and dropped. */
    maxBytes: number;
  };
  /** The live event inspector and dead-letter re-drive on the admin port (/inspect). */
  inspector: {
    enabled: boolean;
    /** Pages watching the live stream at once; one more is answered 503. */
    maxSubscribers: number;
    /** Bytes of stream a page may leave unread before it is dropped. */
    subscriberQueueBytes: number;
  };
  /** The disk spool at the end of every route. */
  spool: { enabled: boolean; dir?: string; maxBytes: number; segmentBytes: number };
  shutdown: { graceMs: number };
  /**
   * Gateway processes sharing the ports (node:cluster), each with its own batchers, producers
   * and directories; `auto`: the CPUs the container may use. 1: one process, no cluster.
   */
  workers: number | 'auto';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  auth: {
    /** Service keys; plain `key`s are replaced by their `sha256` when the config is built. */
    keys: ConfiguredKey[];
    /** `key=scope` lines, read again on SIGHUP and when it changes (a mounted Secret). */
    keysFile?: string;
  };
  rateLimit: {
    /** Every request to the public port, by client address (per topic: its `rateLimit.perIp`). */
    perIp: RateRule;
    /** Service requests, by key, unless the key's class has its own. */
    perKey: RateRule;
    keyClasses: Record<string, RateRule>;
    /** Buckets kept at once; the least recently used client's goes first. */
    maxClients: number;
  };
  /** The Segment HTTP Tracking API routes (src/segment/, docs/segment.md). */
  segment: SegmentConfig;
}

/** More processes than this would only share the same cores; a typo (1000) should fail. */
export const MAX_WORKERS = 256;

const batchSchema = {
  $id: 'batch',
  type: 'object',
  additionalProperties: false,
  properties: {
    maxRecords: { type: 'integer', minimum: 1, maximum: 100000 },
    maxBytes: { type: 'integer', minimum: 1024 },
    lingerMs: { type: 'integer', minimum: 0, maximum: 60000 },
    maxInFlight: { type: 'integer', minimum: 1, maximum: 64 },
  },
} as const;

/** One token bucket: `requestsPerSecond` 0 turns it off; `burst` 0 means one second's worth. */
export const rateRuleSchema = {
  $id: 'rateRule',
  type: 'object',
  additionalProperties: false,
  properties: {
    requestsPerSecond: { type: 'number', minimum: 0, maximum: 1e9, default: 0 },
    burst: { type: 'integer', minimum: 0, maximum: 1e9, default: 0 },
  },
} as const;

/** The schema of a destinations entry of `type`: its type's keys, plus `type` and `batch`. */
function entrySchema(type: DestinationType): object {
  return {
    ...type.schema,
    required: ['type', ...(type.schema.required ?? [])],
    properties: { type: { const: type.type }, ...type.schema.properties, batch: { $ref: 'batch' } },
  };
}

/** The whole config's schema; `destinations` takes the registry's types. */
export const configSchema = (registry: DestinationRegistry = destinationRegistry) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', default: '0.0.0.0' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        adminHost: { type: 'string', default: '0.0.0.0' },
        adminPort: { type: 'integer', minimum: 0, maximum: 65535, default: 9464 },
        trustProxy: { anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', minLength: 1 } }], default: false },
        bodyLimitBytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: 4 * 1024 * 1024 },
        retryAfterSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 1 },
        ackTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: 10000 },
        maxDecodedBytes: { type: 'integer', minimum: 1024, maximum: 256 * 1024 * 1024 },
        decodeBudgetBytes: { type: 'integer', minimum: 1024, maximum: 16 * 1024 * 1024 * 1024 },
        decodeWaitMs: { type: 'integer', minimum: 0, maximum: 60000, default: 1000 },
        maxEventsPerRequest: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
        maxErrorsReturned: { type: 'integer', minimum: 1, maximum: 100000, default: 100 },
        maxUrlBytes: { type: 'integer', minimum: 256, maximum: 65536, default: 8192 },
        maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1024 * 1024, default: 16384 },
        requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 3600000, default: 30000 },
        headersTimeoutMs: { type: 'integer', minimum: 100, maximum: 3600000, default: 10000 },
        keepAliveTimeoutMs: { type: 'integer', minimum: 100, maximum: 3600000, default: 72000 },
        maxConnections: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
        paths: pathsSchema,
      },
    },
    topicsDir: { type: 'string', minLength: 1, default: './topics' },
    schemaRegistry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      dependencies: { username: ['password'], password: ['username'] },
      properties: {
        url: { type: 'string', pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$', maxLength: 2048 },
        username: { type: 'string', minLength: 1 },
        password: { type: 'string', minLength: 1 },
        mode: { enum: ['register', 'check'], default: 'register' },
        requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 120000, default: 10000 },
      },
    },
    dataDir: { type: 'string', minLength: 1, default: './data' },
    envelope: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        clientIp: { enum: ['none', 'anonymized', 'full'], default: 'none' },
        userAgent: { type: 'boolean', default: false },
      },
    },
    buffer: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBytes: { type: 'integer', minimum: 65536, default: 256 * 1024 * 1024 },
      },
    },
    batch: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxRecords: { ...batchSchema.properties.maxRecords, default: 1000 },
        maxBytes: { ...batchSchema.properties.maxBytes, default: 1024 * 1024 },
        lingerMs: { ...batchSchema.properties.lingerMs, default: 5 },
        maxInFlight: { ...batchSchema.properties.maxInFlight, default: 1 },
      },
    },
    destinations: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
      additionalProperties: {
        type: 'object',
        required: ['type'],
        discriminator: { propertyName: 'type' },
        oneOf: registry.types.map(entrySchema),
      },
    },
    defaultRoute: { type: 'array', minItems: 1, items: { type: 'string' } },
    defaultRoutes: { type: 'array', minItems: 1, items: { type: 'array', items: { type: 'string' } } },
    deadLetter: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dir: { type: 'string', minLength: 1 },
        maxPayloadBytes: { type: 'integer', minimum: 256, maximum: 1024 * 1024, default: 8192 },
        maxBytes: { type: 'integer', minimum: 1048576, default: 1024 * 1024 * 1024 },
      },
    },
    inspector: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        maxSubscribers: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
        subscriberQueueBytes: { type: 'integer', minimum: 65536, maximum: 64 * 1024 * 1024, default: 1024 * 1024 },
      },
    },
    spool: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        dir: { type: 'string', minLength: 1 },
        maxBytes: { type: 'integer', minimum: 1048576, default: 1024 * 1024 * 1024 },
        segmentBytes: { type: 'integer', minimum: 65536, default: 16 * 1024 * 1024 },
      },
    },
    shutdown: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { graceMs: { type: 'integer', minimum: 0, default: 20000 } },
    },
    // One process unless asked: `npm start` on a laptop needs no cluster. The image sets
    // GATEWAY_WORKERS=auto (one per CPU) and the Helm chart sets it to the CPUs the pod requests.
    workers: { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 1, maximum: MAX_WORKERS }], default: 1 },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        keys: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['scopes'],
            properties: {
              key: { type: 'string', minLength: 1, maxLength: 256 },
              sha256: { type: 'string', pattern: '^(sha256:)?[0-9a-fA-F]{64}$' },
              scopes: { type: 'array', minItems: 1, items: { type: 'string' } },
              class: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
              name: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
            },
          },
        },
        keysFile: { type: 'string', minLength: 1 },
      },
    },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        perIp: { $ref: 'rateRule', default: {} },
        perKey: { $ref: 'rateRule', default: {} },
        keyClasses: { type: 'object', default: {}, propertyNames: { pattern: '^[A-Za-z0-9_-]{1,64}$' }, additionalProperties: { $ref: 'rateRule' } },
        maxClients: { type: 'integer', minimum: 1, maximum: 10000000, default: 100000 },
      },
    },
    segment: segmentConfigSchema,
  },
});

/** Environment variables that override one key each (strings, coerced by the schema). */
export const ENV_OVERRIDES: Record<string, string> = {
  GATEWAY_HOST: 'server.host',
  GATEWAY_PORT: 'server.port',
  GATEWAY_ADMIN_HOST: 'server.adminHost',
  GATEWAY_ADMIN_PORT: 'server.adminPort',
  GATEWAY_TRUST_PROXY: 'server.trustProxy',
  GATEWAY_BODY_LIMIT_BYTES: 'server.bodyLimitBytes',
  GATEWAY_MAX_DECODED_BYTES: 'server.maxDecodedBytes',
  GATEWAY_DECODE_BUDGET_BYTES: 'server.decodeBudgetBytes',
  GATEWAY_MAX_EVENTS_PER_REQUEST: 'server.maxEventsPerRequest',
  GATEWAY_REQUEST_TIMEOUT_MS: 'server.requestTimeoutMs',
  GATEWAY_MAX_CONNECTIONS: 'server.maxConnections',
  GATEWAY_TOPICS_DIR: 'topicsDir',
  GATEWAY_SCHEMA_REGISTRY_URL: 'schemaRegistry.url',
  GATEWAY_SCHEMA_REGISTRY_USERNAME: 'schemaRegistry.username',
  GATEWAY_SCHEMA_REGISTRY_PASSWORD: 'schemaRegistry.password',
  GATEWAY_SCHEMA_REGISTRY_MODE: 'schemaRegistry.mode',
  GATEWAY_DATA_DIR: 'dataDir',
  GATEWAY_CLIENT_IP: 'envelope.clientIp',
  GATEWAY_USER_AGENT: 'envelope.userAgent',
  GATEWAY_BUFFER_MAX_BYTES: 'buffer.maxBytes',
  GATEWAY_DEAD_LETTER_MAX_BYTES: 'deadLetter.maxBytes',
  GATEWAY_INSPECTOR_ENABLED: 'inspector.enabled',
  GATEWAY_SPOOL_DIR: 'spool.dir',
  GATEWAY_SPOOL_MAX_BYTES: 'spool.maxBytes',
  GATEWAY_SHUTDOWN_GRACE_MS: 'shutdown.graceMs',
  GATEWAY_WORKERS: 'workers',
  GATEWAY_LOG_LEVEL: 'logLevel',
  GATEWAY_KEYS_FILE: 'auth.keysFile',
  GATEWAY_RATE_LIMIT_IP_RPS: 'rateLimit.perIp.requestsPerSecond',
  GATEWAY_RATE_LIMIT_IP_BURST: 'rateLimit.perIp.burst',
  GATEWAY_RATE_LIMIT_KEY_RPS: 'rateLimit.perKey.requestsPerSecond',
  GATEWAY_RATE_LIMIT_KEY_BURST: 'rateLimit.perKey.burst',
  GATEWAY_SEGMENT_ENABLED: 'segment.enabled',
  GATEWAY_SEGMENT_CALLS: 'segment.calls',
  GATEWAY_SEGMENT_DEAD_LETTER_REFUSED: 'segment.deadLetterRefused',
};

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, discriminator: true });
ajv.addSchema(batchSchema);
ajv.addSchema(rateRuleSchema);
/** One compiled validator per registry (in practice one: the real registry; tests add their own). */
const validators = new WeakMap<DestinationRegistry, ValidateFunction<GatewayConfig>>();

function validatorFor(registry: DestinationRegistry): ValidateFunction<GatewayConfig> {
  let validate = validators.get(registry);
  if (!validate) validators.set(registry, (validate = ajv.compile<GatewayConfig>(configSchema(registry))));
  return validate;
}

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: cannot read (${(err as Error).message})`);
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : YAML.parse(text) ?? {};
  } catch (err) {
    throw new ConfigError(`config file ${path}: cannot parse (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * Builds the config from a parsed file (or nothing) and the environment: validates it, fills
 * defaults, derives the default destinations, and freezes it. `registry`: the destination
 * types it knows (tests pass their own).
 */
export function buildConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, registry: DestinationRegistry = destinationRegistry): Readonly<GatewayConfig> {
  const input: unknown = structuredClone(raw ?? {});
  if (!isMapping(input)) throw new ConfigError('config: the top level must be a mapping of keys');
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(input, key, value);
  }
  // GATEWAY_TRUST_PROXY: true/false, or a comma-separated list of proxy addresses or CIDRs.
  const server = input.server;
  if (isMapping(server) && typeof server.trustProxy === 'string' && !/^(true|false)$/i.test(server.trustProxy)) {
    server.trustProxy = server.trustProxy.split(',').map((s) => s.trim()).filter(Boolean);
  }
  // GATEWAY_SEGMENT_CALLS: a comma-separated list of call types.
  const segment = input.segment;
  if (isMapping(segment) && typeof segment.calls === 'string') segment.calls = segment.calls.split(',').map((s) => s.trim()).filter(Boolean);
  applyDestinationEnv(input, env, registry);
  const validateConfig = validatorFor(registry);
  if (!validateConfig(input)) {
    const problems = (validateConfig.errors ?? []).map((e) => {
      const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
      const envName = Object.entries(ENV_OVERRIDES).find(([, k]) => k === key)?.[0] ?? destinationVariableFor(key, registry);
      const where = envName && env[envName] !== undefined ? `${key} (from ${envName})` : key || '(root)';
      if (e.keyword === 'discriminator') return `${key}.type must be one of ${registry.types.map((t) => t.type).join(', ')}`;
      if (e.keyword === 'additionalProperties') return `${where ? `${where}: ` : ''}unknown key "${(e.params as any).additionalProperty}"`.replace(/^\(root\): /, '');
      return `${where} ${e.message}`;
    });
    throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`);
  }
  const config = input;
  checkServerLimits(config.server);
  config.auth.keys = hashedKeys(config.auth.keys, env.GATEWAY_KEYS);
  fillBursts(config.rateLimit);
  finishDestinations(config, registry);
  config.defaultRoutes = defaultRoutesOf(config);
  return deepFreeze(config);
}

/**
 * Each type's environment variables, in registry order, on the raw `destinations` (before
 * validation, so their values are checked like the file's); then the registry's embedded
 * default when nothing names a destination.
 */
function applyDestinationEnv(input: Record<string, unknown>, env: NodeJS.ProcessEnv, registry: DestinationRegistry): void {
  const destinations = input.destinations ?? {};
  // Not a mapping: validation names the key.
  if (!isMapping(destinations)) return;
  // An empty mapping names nothing, like no key at all.
  const fromFile = Object.keys(destinations).length > 0;
  for (const type of registry.types) type.env?.apply(destinations, env, fromFile);
  if (Object.keys(destinations).length === 0) Object.assign(destinations, structuredClone(registry.embeddedDefault));
  input.destinations = destinations;
}

/**
 * `defaultRoutes`, or the one route `defaultRoute` names; without either, the destinations
 * form one chain in the order they are written.
 */
function defaultRoutesOf(config: GatewayConfig): string[][] {
  const given = config as { defaultRoute?: string[]; defaultRoutes?: string[][] };
  if (given.defaultRoute && given.defaultRoutes) throw new ConfigError('invalid config:\n  defaultRoute and defaultRoutes are both given: defaultRoute is the one-route form of defaultRoutes; give one of them');
  const known = (name: string) => config.destinations[name] !== undefined;
  if (given.defaultRoutes) {
    const problems = routeListProblems(given.defaultRoutes, 'defaultRoutes', known);
    if (problems.length > 0) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`);
    return given.defaultRoutes;
  }
  config.defaultRoute ??= Object.keys(config.destinations);
  const problems = routeListProblems([config.defaultRoute], 'defaultRoutes', known).map((p) => p.replace(/^defaultRoutes\.0/, 'defaultRoute'));
  if (problems.length > 0) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`);
  return [config.defaultRoute];
}

/** Each entry's type checks it against the gateway's settings (and clamps it to its limits). */
function finishDestinations(config: GatewayConfig, registry: DestinationRegistry): void {
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(config.destinations)) {
    const type = destinationTypeOf(registry, entry.type);
    if (type?.finish) problems.push(...type.finish(entry, batchConfigFor(config, name, registry)).map((p) => `destinations.${name}: ${p}`));
  }
  if (problems.length > 0) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`);
}

/** The variable of some destination type that set `key` (`destinations.<name>.<key>`), if any. */
function destinationVariableFor(key: string, registry: DestinationRegistry): string | undefined {
  for (const type of registry.types) {
    const name = type.env?.variableFor(key);
    if (name) return name;
  }
  return undefined;
}

export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Readonly<GatewayConfig> {
  return buildConfig(path ? readConfigFile(path) : {}, env);
}

/**
 * The config's keys and GATEWAY_KEYS, each held as its SHA-256 from here on: the frozen config,
 * which a debug dump or a heap snapshot may show, carries no key. Errors name the entry, not the key.
 */
function hashedKeys(entries: ConfiguredKey[], fromEnv: string | undefined): ConfiguredKey[] {
  const keys = [...keysFromConfig(entries), ...(fromEnv ? parseKeyLines(fromEnv, 'GATEWAY_KEYS') : [])];
  return keys.map((k) => ({ sha256: k.digest.toString('hex'), scopes: [...k.scopes], class: k.keyClass, name: k.name }));
}

/** A burst of 0 means one second's worth of the rate. */
function fillBursts(rateLimit: GatewayConfig['rateLimit']): void {
  for (const rule of [rateLimit.perIp, rateLimit.perKey, ...Object.values(rateLimit.keyClasses)]) {
    if (rule.burst === 0) rule.burst = Math.max(1, Math.ceil(rule.requestsPerSecond));
  }
}

/** Limits that depend on each other: derived defaults, then their order checked. */
function checkServerLimits(server: GatewayConfig['server']): void {
  // Compressed tracking batches inflate 5–20×; four times the body limit keeps the worst
  // case of one request a small multiple of what an uncompressed body may take anyway.
  server.maxDecodedBytes ??= Math.min(4 * server.bodyLimitBytes, 256 * 1024 * 1024);
  // Two requests at their limits at once (40 MiB with the defaults), or many smaller ones:
  // what docs/memory.md measured a worker to need stays within the chart's memory request.
  server.decodeBudgetBytes ??= 2 * (server.bodyLimitBytes + server.maxDecodedBytes);
  const problems: string[] = [];
  if (server.maxDecodedBytes < server.bodyLimitBytes) problems.push('server.maxDecodedBytes must be at least server.bodyLimitBytes');
  if (server.maxUrlBytes > server.maxHeaderBytes) problems.push('server.maxUrlBytes must be at most server.maxHeaderBytes (the URL counts as header bytes)');
  if (server.headersTimeoutMs > server.requestTimeoutMs) problems.push('server.headersTimeoutMs must be at most server.requestTimeoutMs');
  problems.push(...pathProblems(server.paths));
  if (problems.length > 0) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`);
}

/** The batch settings of one destination: its own, over its type's, over the gateway's. */
export function batchConfigFor(config: GatewayConfig, destination: string, registry: DestinationRegistry = destinationRegistry): BatchConfig {
  const entry = config.destinations[destination];
  return { ...config.batch, ...(entry && destinationTypeOf(registry, entry.type)?.batchDefaults), ...entry?.batch };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
