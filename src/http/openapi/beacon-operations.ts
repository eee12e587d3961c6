import type { ErrorCode } from '../../errors';
import type { Topic, TopicVersion } from '../../topics/registry';
import { PIXEL_CACHE_CONTROL } from '../pixel';
import { openApiPath, operationId, topicPath, TOPIC_PATH_PARAMETERS, type ApiFamily, type OpenApiContext, type PathItem } from './document';
import { BODY_ERRORS, errorResponses } from './responses';
import { eventsBody, formFields, jsonText, originParameter, PUBLISHABLE_KEY_PARAMETERS, RESERVED_QUERY_FIELDS, VERSION_HEADER_PARAMETER, VERSION_QUERY_PARAMETER } from './topic-bodies';

// The beacon endpoints (routes/beacon.ts, pixel-fast-path.ts) under each of their names: for
// every public topic its own path, whose query and bodies are the default version's events
// (another version's by ?v=), and the templated path for every other name (a service-only
// topic answers 403, an unknown one 404). Invalid events are answered as valid ones are and
// go to the dead letter: a beacon's answer says nothing about its events.

const ACCESS_ERRORS: ErrorCode[] = ['PUBLISHABLE_KEY_REQUIRED', 'ORIGIN_NOT_ALLOWED', 'SERVICE_ONLY_TOPIC', 'UNKNOWN_SERVICE', 'UNKNOWN_TOPIC'];
const QUERY_ERRORS: ErrorCode[] = ['BAD_PARAMETER', 'PROTOTYPE_POISONING', 'BAD_VERSION', 'UNKNOWN_VERSION'];
const PIXEL_ERRORS: ErrorCode[] = [...ACCESS_ERRORS, ...QUERY_ERRORS, 'MALFORMED_BODY', 'OVERLOADED'];
const POST_ERRORS: ErrorCode[] = [
  ...PIXEL_ERRORS,
  ...BODY_ERRORS,
];
const PREFLIGHT_ERRORS: ErrorCode[] = ['ORIGIN_NOT_ALLOWED', 'SERVICE_ONLY_TOPIC', 'UNKNOWN_SERVICE', 'UNKNOWN_TOPIC'];

const CACHE_CONTROL = { description: `${PIXEL_CACHE_CONTROL}: a cached beacon would record nothing`, required: true, schema: { type: 'string' } };
export const CORS_HEADERS = {
  'Access-Control-Allow-Origin': { description: 'The request\'s Origin, when it is allowed', schema: { type: 'string' } },
  'Access-Control-Allow-Credentials': { description: 'true, with an allowed Origin', schema: { type: 'string', enum: ['true'] } },
};

const CONTROL_PARAMETERS = [
  VERSION_QUERY_PARAMETER,
  ...PUBLISHABLE_KEY_PARAMETERS,
  { name: '$d', in: 'query', description: 'The whole event (nested values too) as base64url JSON', schema: { type: 'string' } },
  { name: '$status', in: 'query', description: '204: answer 204 No Content instead of the GIF', schema: { type: 'string', enum: ['204'] } },
  { name: 'cb', in: 'query', description: 'Cache buster, ignored', schema: { type: 'string' } },
  { name: '_', in: 'query', description: 'Cache buster, ignored', schema: { type: 'string' } },
  VERSION_HEADER_PARAMETER,
];

export const beaconOperations: ApiFamily = (context) => {
  const items: Record<string, PathItem> = {};
  const publicTopics = context.registry.list().filter((topic) => topic.config.access === 'public');
  for (const route of context.paths.beaconRoutes) {
    const name = route.split('/').slice(-3)[0];
    items[openApiPath(route)] = { parameters: TOPIC_PATH_PARAMETERS, ...beaconItem(context, name, undefined) };
    for (const topic of publicTopics) items[topicPath(route, topic)] = beaconItem(context, name, topic);
  }
  return items;
};

function beaconItem(context: OpenApiContext, name: string, topic: Topic | undefined): PathItem {
  const version = topic?.versions.get(topic.config.defaultVersion);
  const ids = topic ? [name, topic.service, topic.name] : [name];
  const what = topic ? `${topic.service}/${topic.name} (v${version!.version} unless ?v= says another)` : 'any topic';
  const origin = originParameter(topic);
  return {
    get: {
      tags: ['beacons'],
      operationId: operationId('pixel', ...ids),
      summary: `Pixel beacon of ${what}`,
      description: 'query field=value…, each value coerced to its field type; records, arrays and maps as JSON text. Answered at once; invalid events go to the dead letter.',
      parameters: [...(version ? queryFields(version) : []), ...CONTROL_PARAMETERS, origin],
      responses: {
        '200': {
          description: 'A 1×1 transparent GIF',
          headers: { 'Cache-Control': CACHE_CONTROL, ...CORS_HEADERS },
          content: { 'image/gif': { schema: { type: 'string', contentMediaType: 'image/gif' } } },
        },
        '204': { description: 'With $status=204', headers: { 'Cache-Control': CACHE_CONTROL, ...CORS_HEADERS } },
        ...errorResponses(PIXEL_ERRORS),
      },
    },
    post: {
      tags: ['beacons'],
      operationId: operationId('beacon', ...ids),
      summary: `sendBeacon / fetch keepalive of ${what}`,
      description: 'One event or an array. Answered at once; invalid events go to the dead letter.',
      parameters: [VERSION_QUERY_PARAMETER, ...PUBLISHABLE_KEY_PARAMETERS, VERSION_HEADER_PARAMETER, origin],
      requestBody: {
        required: true,
        content: {
          'text/plain': { schema: jsonText(eventsBody(context, version), 'JSON text, what sendBeacon sends (no CORS preflight)') },
          'application/json': { schema: eventsBody(context, version) },
          'application/x-www-form-urlencoded': { schema: version ? formSchema(version) : { type: 'object' } },
        },
      },
      responses: {
        '204': { description: 'Taken (buffered; invalid events dead-lettered)', headers: { 'Cache-Control': { ...CACHE_CONTROL, description: 'no-store' }, ...CORS_HEADERS } },
        ...errorResponses(POST_ERRORS),
      },
    },
    options: {
      tags: ['beacons'],
      operationId: operationId('preflight', ...ids),
      summary: `CORS preflight of ${what}`,
      parameters: [origin, { name: 'Access-Control-Request-Method', in: 'header', schema: { type: 'string' } }],
      responses: {
        '204': {
          description: 'Methods and headers a beacon may use',
          headers: {
            'Access-Control-Allow-Methods': { required: true, schema: { type: 'string' } },
            'Access-Control-Allow-Headers': { required: true, schema: { type: 'string' } },
            'Access-Control-Max-Age': { required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
            ...CORS_HEADERS,
          },
        },
        ...errorResponses(PREFLIGHT_ERRORS),
      },
    },
  };
}

/** The pixel's query: one parameter per top-level field, and `$id`, `$time`. */
function queryFields(version: TopicVersion): Record<string, unknown>[] {
  const { properties, required } = formFields(version);
  const fields = Object.entries(properties).map(([name, schema]) => ({ name, in: 'query', required: required.includes(name), schema }));
  return [...fields, ...Object.entries(RESERVED_QUERY_FIELDS).map(([name, schema]) => ({ name, in: 'query', schema }))];
}

function formSchema(version: TopicVersion): Record<string, unknown> {
  const { properties, required } = formFields(version);
  return { type: 'object', properties: { ...properties, ...RESERVED_QUERY_FIELDS }, required, additionalProperties: false };
}
