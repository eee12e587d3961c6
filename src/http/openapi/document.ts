import type { GatewayConfig } from '../../config/config';
import { pascal, topicJsonSchemas, type JsonSchema } from '../../topics/json-schema';
import type { Topic, TopicRegistry, TopicVersion } from '../../topics/registry';
import type { PublicPaths } from '../paths';
import { errorSchemas } from './responses';

// The OpenAPI 3.1 document of the public port, built once at start from the topics tree and
// the configured paths. Each route family (beacons, events, discovery, the tracker, …) is an
// `ApiFamily`: a function that returns its path items and may add component schemas through
// the context. A new family is one function in the list public-server.ts passes here.

export type PathItem = Record<string, unknown>;

export interface OpenApiContext {
  registry: TopicRegistry;
  paths: PublicPaths;
  server: Pick<GatewayConfig['server'], 'maxEventsPerRequest' | 'maxErrorsReturned'>;
  /** Adds a component schema under `name` (once) and returns the `$ref` to it. */
  schema(name: string, schema: JsonSchema): JsonSchema;
  /** The `$ref` of one topic version's event, its records added as component schemas. */
  event(version: TopicVersion): JsonSchema;
}

/** A route family's operations, by OpenAPI path (`/v1/events/{service}/{topic}`). */
export type ApiFamily = (context: OpenApiContext) => Record<string, PathItem>;

export interface OpenApiParts {
  registry: TopicRegistry;
  paths: PublicPaths;
  server: OpenApiContext['server'];
  families: ApiFamily[];
  /** The gateway's version (package.json). */
  version: string;
}

export const SECURITY_SCHEMES = {
  serviceKeyBearer: { type: 'http', scheme: 'bearer', description: 'A service key: Authorization: Bearer <key>' },
  serviceKeyBasic: { type: 'http', scheme: 'basic', description: 'A service key as the user name of Basic auth (the password is ignored)' },
};

/** What a service endpoint takes: either scheme. */
export const SERVICE_SECURITY = [{ serviceKeyBearer: [] }, { serviceKeyBasic: [] }];

/** The document, as plain JSON (no `undefined` left in it). */
export function buildOpenApiDocument(parts: OpenApiParts): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = { ...errorSchemas() };
  const context: OpenApiContext = {
    registry: parts.registry,
    paths: parts.paths,
    server: parts.server,
    schema(name, schema) {
      schemas[name] ??= schema;
      return { $ref: `#/components/schemas/${name}` };
    },
    event(version) {
      const { event, definitions } = topicJsonSchemas(version, { prefix: versionSchemaName(version), refBase: '#/components/schemas/' });
      for (const [name, definition] of Object.entries(definitions)) schemas[name] ??= definition;
      return event;
    },
  };
  const paths: Record<string, PathItem> = {};
  for (const family of parts.families) {
    for (const [path, item] of Object.entries(family(context))) paths[path] = { ...paths[path], ...item };
  }
  return JSON.parse(JSON.stringify({
    openapi: '3.1.1',
    info: {
      title: 'tracking-gateway public API',
      version: parts.version,
      description:
        'Beacons from browsers, service events, Segment SDK calls, topic discovery and the browser tracker. Generated at start from the topics tree: ' +
        "each topic version's events are described by a JSON Schema derived from its Avro schema. Every refusal is " +
        '{"error":{"code","message","events"?,"moreErrors"?}}; a method a path does not take is answered 405 with Allow.',
    },
    tags: [
      { name: 'beacons', description: 'Browsers: answered at once, keyless, origin-checked' },
      { name: 'events', description: 'Services: a 200 means durable; needs a service key' },
      { name: 'segment', description: 'The Segment HTTP Tracking API (when segment.enabled): each call typed by the topic it maps to' },
      { name: 'discovery', description: 'Topics, versions and schemas' },
      { name: 'tracker', description: 'The browser tracker script' },
    ],
    paths,
    components: { schemas, securitySchemes: SECURITY_SCHEMES },
  }));
}

/** `ShopOrderPlacedV1`: the component name of a topic version's event. */
export function versionSchemaName(version: TopicVersion): string {
  return `${pascal(version.service)}${pascal(version.topic)}V${version.version}`;
}

/** The OpenAPI form of a Fastify route (`/v1/events/:service/:topic` → `/v1/events/{service}/{topic}`). */
export function openApiPath(route: string): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** A Fastify route with a topic's names in place of `:service` and `:topic`. */
export function topicPath(route: string, topic: Topic): string {
  return route.replace(':service', topic.service).replace(':topic', topic.name);
}

/** The path parameters of a route family whose path names a service and a topic. */
export const TOPIC_PATH_PARAMETERS = [
  { name: 'service', in: 'path', required: true, description: 'A service of the topics tree (unknown: 404 UNKNOWN_SERVICE)', schema: { type: 'string' } },
  { name: 'topic', in: 'path', required: true, description: 'A topic of the service (unknown: 404 UNKNOWN_TOPIC)', schema: { type: 'string' } },
];

/** An operation id of letters, digits and `_` from its parts. */
export function operationId(...parts: string[]): string {
  return parts.map((part) => pascal(part.replace(/[^A-Za-z0-9]+/g, '_'))).join('');
}
