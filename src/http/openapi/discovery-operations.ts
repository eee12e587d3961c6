import { TRACKER_CACHE_CONTROL } from '../routes/tracker';
import { operationId, TOPIC_PATH_PARAMETERS, type ApiFamily } from './document';
import { errorResponses } from './responses';

// Topic discovery (routes/topics.ts), the browser tracker (routes/tracker.ts) and this
// document itself (routes/openapi.ts).

const TOPIC = {
  type: 'object',
  required: ['service', 'topic', 'access', 'defaultVersion', 'latestVersion', 'versions', 'maxEventBytes', 'endpoints'],
  additionalProperties: false,
  properties: {
    service: { type: 'string' },
    topic: { type: 'string' },
    description: { type: 'string' },
    access: { type: 'string', enum: ['public', 'service'] },
    allowedOrigins: { type: 'array', items: { type: 'string' }, description: 'public topics' },
    defaultVersion: { type: 'integer', minimum: 1 },
    latestVersion: { type: 'integer', minimum: 1 },
    versions: { type: 'array', items: { type: 'integer', minimum: 1 } },
    partitionKey: { type: 'string' },
    maxEventBytes: { type: 'integer', minimum: 1 },
    endpoints: {
      type: 'object',
      required: ['events'],
      additionalProperties: false,
      properties: { beacon: { type: 'string', description: 'public topics' }, events: { type: 'string' } },
    },
  },
};

/** An Avro schema as its .avsc file holds it. */
const AVRO_SCHEMA = { description: 'An Avro schema (a record)', type: 'object' };

const TOPIC_DETAIL = {
  ...TOPIC,
  required: [...TOPIC.required, 'schemas'],
  properties: { ...TOPIC.properties, schemas: { type: 'object', additionalProperties: AVRO_SCHEMA, description: 'by version number' } },
};

const JSON_OK = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });

export const topicsOperations: ApiFamily = (context) => {
  const list = context.paths.topicsRoute;
  const topic = context.schema('Topic', TOPIC);
  return {
    [list]: {
      get: {
        tags: ['discovery'],
        operationId: 'listTopics',
        summary: 'Every topic: access, versions, endpoints',
        responses: {
          '200': JSON_OK('The topics', { type: 'object', required: ['topics'], additionalProperties: false, properties: { topics: { type: 'array', items: topic } } }),
          ...errorResponses([]),
        },
      },
    },
    [`${list}/{service}/{topic}`]: {
      parameters: TOPIC_PATH_PARAMETERS,
      get: {
        tags: ['discovery'],
        operationId: 'describeTopic',
        summary: 'One topic and the Avro schema of each version',
        responses: {
          '200': JSON_OK('The topic', context.schema('TopicDetail', TOPIC_DETAIL)),
          ...errorResponses(['UNKNOWN_SERVICE', 'UNKNOWN_TOPIC']),
        },
      },
    },
    [`${list}/{service}/{topic}/versions/{version}`]: {
      parameters: [...TOPIC_PATH_PARAMETERS, { name: 'version', in: 'path', required: true, description: 'A version number in canonical decimal, 1 to 999999 (else 400 BAD_VERSION; no such version: 404 UNKNOWN_VERSION)', schema: { type: 'integer', minimum: 1, maximum: 999999 } }],
      get: {
        tags: ['discovery'],
        operationId: 'topicVersionSchema',
        summary: 'The Avro schema of one version, as its .avsc holds it',
        responses: { '200': JSON_OK('The schema', AVRO_SCHEMA), ...errorResponses(['BAD_VERSION', 'UNKNOWN_SERVICE', 'UNKNOWN_TOPIC', 'UNKNOWN_VERSION']) },
      },
    },
  };
};

export const trackerOperations: ApiFamily = (context) =>
  Object.fromEntries(
    context.paths.trackerRoutes.map((route) => [
      route,
      {
        get: {
          tags: ['tracker'],
          operationId: operationId('tracker', route.slice(route.lastIndexOf('/') + 1)),
          summary: 'The browser tracker (an IIFE)',
          parameters: [{ name: 'If-None-Match', in: 'header', description: 'The ETag of a copy held: 304 when it is current', schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The script; gzip when Accept-Encoding allows it',
              headers: {
                'Cache-Control': { description: TRACKER_CACHE_CONTROL, required: true, schema: { type: 'string' } },
                ETag: { required: true, schema: { type: 'string' } },
                'Access-Control-Allow-Origin': { required: true, schema: { type: 'string', enum: ['*'] } },
              },
              content: { 'text/javascript': { schema: { type: 'string' } } },
            },
            '304': { description: 'If-None-Match names the current ETag', headers: { ETag: { required: true, schema: { type: 'string' } } } },
            ...errorResponses(['NOT_FOUND']),
          },
        },
      },
    ]),
  );

export const openApiOperations: ApiFamily = (context) => ({
  [context.paths.openApiRoute]: {
    get: {
      tags: ['discovery'],
      operationId: 'openApiDocument',
      summary: 'This document: OpenAPI 3.1, generated at start from the topics tree',
      responses: { '200': JSON_OK('The OpenAPI document', {
          type: 'object',
          required: ['openapi', 'info', 'paths'],
          properties: { openapi: { type: 'string', pattern: '^3\\.1\\.' }, info: { type: 'object' }, paths: { type: 'object' } },
        }), ...errorResponses([]) },
    },
  },
});
