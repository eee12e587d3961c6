import type { ErrorCode } from '../../errors';
import type { JsonSchema } from '../../topics/json-schema';
import type { Topic } from '../../topics/registry';
import { openApiPath, operationId, SERVICE_SECURITY, topicPath, TOPIC_PATH_PARAMETERS, type ApiFamily, type OpenApiContext, type PathItem } from './document';
import { BODY_ERRORS, EVENT_ERROR_SCHEMA_NAME, errorResponses } from './responses';
import { eventsBody, jsonText, VERSION_HEADER_PARAMETER, VERSION_QUERY_PARAMETER } from './topic-bodies';

// POST /v1/events (routes/events.ts): every topic's own path, whose JSON bodies are its default
// version's events, and the templated path for every other name. NDJSON and Avro are
// described as what they are on the wire: lines of JSON text, and Avro binary (datums of the
// requested version back to back, or an Object Container File).

const ERRORS: ErrorCode[] = [
  'MALFORMED_BODY',
  'BAD_PARAMETER',
  'PROTOTYPE_POISONING',
  'BAD_VERSION',
  'UNAUTHORIZED',
  'FORBIDDEN_SCOPE',
  'UNKNOWN_SERVICE',
  'UNKNOWN_TOPIC',
  'UNKNOWN_VERSION',
  ...BODY_ERRORS,
  'EVENT_TOO_LARGE',
  'INVALID_EVENTS',
  'OVERLOADED',
  'DELIVERY_FAILED',
];

const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines'];
const AVRO_TYPES = ['avro/binary', 'application/avro', 'application/vnd.apache.avro+binary'];

export const eventsOperations: ApiFamily = (context) => {
  const route = context.paths.eventsRoute;
  const items: Record<string, PathItem> = { [openApiPath(route)]: { parameters: TOPIC_PATH_PARAMETERS, post: eventsOperation(context, undefined) } };
  for (const topic of context.registry.list()) items[topicPath(route, topic)] = { post: eventsOperation(context, topic) };
  return items;
};

function eventsOperation(context: OpenApiContext, topic: Topic | undefined): Record<string, unknown> {
  const version = topic?.versions.get(topic.config.defaultVersion);
  const body = eventsBody(context, version);
  const content: Record<string, unknown> = { 'application/json': { schema: body } };
  const lines = { ...(body.anyOf as JsonSchema[])[1], description: 'NDJSON: the events, one per line as JSON text' };
  for (const type of NDJSON_TYPES) content[type] = { schema: lines };
  for (const type of AVRO_TYPES) {
    content[type] = { schema: { type: 'string', format: 'binary', description: 'Avro binary datums of the requested version back to back, or an Object Container File (codec null or deflate)' } };
  }
  // Any web page can make a browser send text/plain cross-site: public topics only (415 otherwise).
  if (topic === undefined || topic.config.access === 'public') {
    content['text/plain'] = { schema: jsonText(body, 'JSON text (public topics only; a service-only topic answers 415)') };
  }
  return {
    tags: ['events'],
    operationId: operationId('events', ...(topic ? [topic.service, topic.name] : [])),
    summary: topic ? `Service events of ${topic.service}/${topic.name} (v${version!.version} unless ?v= says another)` : 'Service events of any topic',
    description: topic?.config.description,
    security: SERVICE_SECURITY,
    parameters: [
      VERSION_QUERY_PARAMETER,
      { name: 'partial', in: 'query', description: 'true: accept the valid events of a batch and list the others; else one invalid event refuses the batch (422)', schema: { type: 'boolean' } },
      VERSION_HEADER_PARAMETER,
    ],
    requestBody: { required: true, content },
    responses: {
      '200': {
        description: 'Every accepted event is durable (acknowledged by its destination, or fsynced in the spool)',
        content: { 'application/json': { schema: context.schema('EventsResult', EVENTS_RESULT) } },
      },
      ...errorResponses(ERRORS),
    },
  };
}

const EVENTS_RESULT = {
  type: 'object',
  required: ['accepted', 'rejected', 'errors'],
  additionalProperties: false,
  properties: {
    accepted: { type: 'integer', minimum: 0 },
    rejected: { type: 'integer', minimum: 0, description: 'with ?partial=true: the events left out' },
    errors: { type: 'array', items: { $ref: `#/components/schemas/${EVENT_ERROR_SCHEMA_NAME}` } },
    moreErrors: { type: 'integer', minimum: 1 },
  },
};
