import type { ErrorCode } from '../../errors';
import { SEGMENT_CALL_TYPES, type SegmentCallType, type SegmentConfig } from '../../segment/segment-config';
import { RESERVED_PROPERTIES, type JsonSchema } from '../../topics/json-schema';
import { CONTENT_ENCODINGS } from '../content-encoding';
import { CORS_HEADERS } from './beacon-operations';
import { operationId, SERVICE_SECURITY, type ApiFamily, type OpenApiContext, type PathItem } from './document';
import { BODY_ERRORS, EVENT_ERROR_SCHEMA_NAME, errorResponses } from './responses';
import { jsonText, originSchema } from './topic-bodies';

// The Segment HTTP Tracking API (routes/segment.ts, docs/segment.md) as it is served: POST
// <prefix>/batch and each call type's path, under its long and short names, their CORS
// preflight, and the settings document analytics-next loads. Only when segment.enabled; the
// calls' shapes are Segment's (any call key beyond the spec is taken and ignored), each call
// checked by its topic's schema once it is mapped, and refused on its own inside a batch.

/** Thrown for the whole request; a call's own refusals are listed in the 200 (or the 422). */
const POST_ERRORS: ErrorCode[] = [
  'MALFORMED_BODY',
  'PROTOTYPE_POISONING',
  'UNAUTHORIZED',
  ...BODY_ERRORS,
  'INVALID_EVENTS',
  'OVERLOADED',
  'DELIVERY_FAILED',
];

/** The short names of analytics-next (routes/segment.ts). */
const SHORT_NAMES: Record<SegmentCallType, string> = { track: 't', identify: 'i', page: 'p', screen: 's', group: 'g', alias: 'a' };

/** What a call without a key of its own may name itself by: the body's writeKey (Segment's third way). */
const WRITE_KEY_SECURITY = [...SERVICE_SECURITY, {}];

const CONTENT_ENCODING_PARAMETER = {
  name: 'Content-Encoding',
  in: 'header',
  description: 'A gzip (or deflate, br) body, as the SDKs send it; its inflated size is bounded like a plain one',
  schema: { type: 'string', enum: ['identity', ...CONTENT_ENCODINGS] },
};

const STRING = { type: 'string' };
const OBJECT = { type: 'object' };

/** Segment's common fields and each call type's own (https://segment.com/docs/connections/spec/). */
const CALL_FIELDS: Record<string, JsonSchema> = {
  type: { type: 'string', enum: [...SEGMENT_CALL_TYPES], description: 'In a batch, the call type; on a call path, the path says it' },
  event: { type: 'string', minLength: 1, description: 'track: the event name, mapped to the topic whose segment.track names it' },
  userId: STRING,
  anonymousId: STRING,
  messageId: { ...RESERVED_PROPERTIES.$id, description: "The event's $id: a retried call is deduplicated by it" },
  timestamp: { ...RESERVED_PROPERTIES.$time, description: "The event's $time" },
  originalTimestamp: { ...RESERVED_PROPERTIES.$time, description: "The event's $time when there is no timestamp" },
  sentAt: { type: 'string', format: 'date-time' },
  properties: { ...OBJECT, description: "track, page, screen: the event's fields" },
  traits: { ...OBJECT, description: "identify, group: the event's fields" },
  context: { ...OBJECT, description: 'Kept as far as the topic declares it' },
  integrations: OBJECT,
  name: STRING,
  category: STRING,
  groupId: STRING,
  previousId: STRING,
  writeKey: { type: 'string', description: 'The key, when no Authorization header carries it' },
};

/** The family of the routes segmentRoutes serves under `prefix` (server.paths.prefix): none when segment.enabled is off. */
export function segmentOperations(segment: Pick<SegmentConfig, 'enabled'>, prefix: string): ApiFamily {
  return (context) => {
    if (!segment.enabled) return {};
    // Each shape spelled out whole rather than as an allOf of SegmentCall: schemathesis 4.32's
    // coverage phase fails on an allOf of a $ref inside an array (a hypothesis error, not a finding).
    const call = context.schema('SegmentCall', callSchema('A Segment call', []));
    const batchCall = context.schema('SegmentBatchCall', callSchema('A call of a batch: its type says which', ['type']));
    const trackCall = context.schema('SegmentTrackCall', callSchema('A track call: its event name says which topic takes it', ['event']));
    const result = context.schema('SegmentResult', segmentResult());
    const origins = segmentOrigins(context);
    const items: Record<string, PathItem> = {};
    const batch = context.schema('SegmentBatch', {
      type: 'object',
      required: ['batch'],
      properties: {
        batch: { type: 'array', minItems: 1, maxItems: context.server.maxEventsPerRequest, items: batchCall },
        writeKey: CALL_FIELDS.writeKey,
        context: { ...OBJECT, description: "The context of each call that has none of its own" },
        sentAt: CALL_FIELDS.sentAt,
      },
    });
    for (const name of ['batch', 'b']) items[`${prefix}/${name}`] = callItem(name, 'A batch of calls of any type, each refused or taken on its own', batch, result, origins);
    for (const type of SEGMENT_CALL_TYPES) {
      const body = type === 'track' ? trackCall : call;
      for (const name of [type, SHORT_NAMES[type]]) items[`${prefix}/${name}`] = callItem(name, `One ${type} call`, body, result, origins);
    }
    items[`${prefix}/projects/{writeKey}/settings`] = settingsItem(context);
    return items;
  };
}

function callSchema(description: string, required: string[]): JsonSchema {
  return { type: 'object', description, properties: CALL_FIELDS, ...(required.length > 0 && { required }) };
}

function callItem(name: string, summary: string, body: JsonSchema, result: JsonSchema, origins: string[]): PathItem {
  return {
    post: {
      tags: ['segment'],
      operationId: operationId('segment', name),
      summary,
      description:
        'The write key as the Basic user (Segment\'s way), as Authorization: Bearer, or as "writeKey" in the body: a service key, or a publishable key of a public topic. ' +
        'A 200 lists the calls refused; a service key gets 422 only when no call of the request was taken.',
      security: WRITE_KEY_SECURITY,
      parameters: [CONTENT_ENCODING_PARAMETER],
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: body },
          'text/plain': { schema: jsonText(body, 'JSON text, as a browser sends it to skip a preflight') },
        },
      },
      responses: {
        '200': {
          description: 'The calls taken are durable (a service key) or buffered (a publishable one); the others are listed',
          headers: CORS_HEADERS,
          content: { 'application/json': { schema: result } },
        },
        ...errorResponses(POST_ERRORS),
      },
    },
    options: {
      tags: ['segment'],
      operationId: operationId('segment', name, 'preflight'),
      summary: `CORS preflight of ${summary.toLowerCase()}`,
      parameters: [
        { name: 'Origin', in: 'header', required: true, description: 'One of the allowedOrigins of a public topic that takes Segment calls', schema: origins.length > 0 && !origins.includes('*') ? originSchema(origins) : STRING },
        { name: 'Access-Control-Request-Method', in: 'header', schema: STRING },
      ],
      responses: {
        '204': {
          description: 'What a browser SDK may send',
          headers: {
            'Access-Control-Allow-Methods': { required: true, schema: { type: 'string', enum: ['POST'] } },
            'Access-Control-Allow-Headers': { required: true, schema: STRING },
            'Access-Control-Max-Age': { required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
            ...CORS_HEADERS,
          },
        },
        ...errorResponses(['ORIGIN_NOT_ALLOWED']),
      },
    },
  };
}

function segmentResult(): JsonSchema {
  return {
    type: 'object',
    required: ['success', 'accepted'],
    additionalProperties: false,
    properties: {
      success: { const: true, description: 'What the SDKs read: the batch is not to be retried' },
      accepted: { type: 'integer', minimum: 0 },
      refused: { type: 'array', minItems: 1, items: { $ref: `#/components/schemas/${EVENT_ERROR_SCHEMA_NAME}` }, description: 'Each refused call: index, type, event, code, path, message (at most server.maxErrorsReturned)' },
      moreRefused: { type: 'integer', minimum: 1, description: 'refusals left out of refused' },
    },
  };
}

/** The origins a browser SDK may send from: those of the public topics that take Segment calls. */
function segmentOrigins(context: OpenApiContext): string[] {
  const topics = context.registry.list().filter((topic) => topic.config.segment && topic.config.access === 'public');
  return [...new Set(topics.flatMap((topic) => topic.config.allowedOrigins))].sort();
}

function settingsItem(context: OpenApiContext): PathItem {
  const keys = [...new Set(context.registry.list().filter((topic) => topic.config.segment && topic.config.access === 'public').flatMap((topic) => topic.config.publishableKeys))].sort();
  return {
    get: {
      tags: ['segment'],
      operationId: 'segmentSettings',
      summary: 'The settings document analytics-next loads from its cdnURL: this gateway as its API host',
      parameters: [{ name: 'writeKey', in: 'path', required: true, description: 'A publishable key of a public topic that takes Segment calls (else 404)', schema: keys.length > 0 ? { type: 'string', examples: keys } : STRING }],
      responses: {
        '200': {
          description: 'No device-mode integrations, no metrics sent to Segment',
          headers: { 'Cache-Control': { required: true, schema: { type: 'string', enum: ['no-store'] } }, ...CORS_HEADERS },
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['integrations', 'plan'],
                properties: {
                  integrations: {
                    type: 'object',
                    required: ['Segment.io'],
                    properties: {
                      'Segment.io': {
                        type: 'object',
                        required: ['apiKey', 'apiHost', 'protocol'],
                        properties: { apiKey: STRING, apiHost: { type: 'string', description: 'host:port and the prefix' }, protocol: { type: 'string', enum: ['http', 'https'] } },
                      },
                    },
                  },
                  plan: OBJECT,
                },
              },
            },
          },
        },
        ...errorResponses(['NOT_FOUND']),
      },
    },
  };
}
