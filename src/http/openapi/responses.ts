import { ERRORS, type ErrorCode } from '../../errors';

// The error answers of the OpenAPI document, from the one table of codes (errors.ts): an
// operation names the codes it can answer, and gets one response per status whose body is the
// documented shape with `code` one of those codes. What every request can be answered,
// whatever its route, is added to each operation here, so no operation forgets it.

/** Refusals any request may get, before or beside its route's own. */
export const EVERY_REQUEST_ERRORS: readonly ErrorCode[] = [
  // Node's parser (bad syntax, a missing Host), Fastify's router (a path that is not UTF-8).
  'BAD_REQUEST',
  'REQUEST_TIMEOUT',
  'URI_TOO_LONG',
  // The per-client rate limit is checked for every request (public-server.ts).
  'RATE_LIMITED',
  'HEADERS_TOO_LARGE',
  'SHUTTING_DOWN',
  // A bug: no input is meant to reach it, and the fuzzer fails the run when one does.
  'INTERNAL',
];

/** What reading a request body can be refused for (body-decoding.ts, content-encoding.ts): its size, its count of events and their nesting, its type, charset and coding. */
export const BODY_ERRORS: readonly ErrorCode[] = [
  'BODY_TOO_LARGE',
  'DECODED_TOO_LARGE',
  'TOO_MANY_EVENTS',
  'TOO_COMPLEX',
  'UNSUPPORTED_CONTENT_TYPE',
  'UNSUPPORTED_CHARSET',
  'UNSUPPORTED_ENCODING',
];

export const ERROR_SCHEMA_NAME = 'Error';
export const EVENT_ERROR_SCHEMA_NAME = 'EventError';

/** Component schemas the error responses refer to. */
export function errorSchemas(): Record<string, Record<string, unknown>> {
  return {
    [EVENT_ERROR_SCHEMA_NAME]: {
      description: "A problem with one event of a request: its index in the request and the field's path",
      type: 'object',
      required: ['index', 'path', 'message'],
      additionalProperties: false,
      properties: {
        index: { type: 'integer', minimum: 0 },
        path: { type: 'string', description: 'e.g. items[0].quantity; empty for the whole event' },
        message: { type: 'string' },
        // A refused Segment call (routes/segment.ts) also says what it was and why.
        type: { type: 'string', description: 'Segment calls: the call type, when it is one' },
        event: { type: 'string', description: "Segment calls: a track's event name (its first 100 characters)" },
        code: { type: 'string', enum: Object.keys(ERRORS), description: 'Segment calls: why this call was refused' },
      },
    },
    [ERROR_SCHEMA_NAME]: {
      description: 'Every refusal, on every route',
      type: 'object',
      required: ['error'],
      additionalProperties: false,
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          additionalProperties: false,
          properties: {
            code: { type: 'string', enum: Object.keys(ERRORS) },
            message: { type: 'string' },
            events: { type: 'array', items: { $ref: `#/components/schemas/${EVENT_ERROR_SCHEMA_NAME}` }, description: 'at most server.maxErrorsReturned' },
            moreErrors: { type: 'integer', minimum: 1, description: 'problems left out of events' },
          },
        },
      },
    },
  };
}

const RETRY_AFTER = { description: 'Seconds to wait before retrying', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } };
const RATE_LIMIT_HEADERS = {
  'Retry-After': RETRY_AFTER,
  'RateLimit-Limit': { description: 'The bucket size', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
  'RateLimit-Remaining': { description: 'Requests left in the bucket', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
  'RateLimit-Reset': { description: 'Seconds until the bucket is full', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
  'RateLimit-Policy': { description: '<burst>;w=<window seconds>', required: true, schema: { type: 'string' } },
};

/** Headers an error answer of this status always carries. */
function errorHeaders(status: number): Record<string, unknown> | undefined {
  if (status === 429) return RATE_LIMIT_HEADERS;
  if (status === 503) return { 'Retry-After': RETRY_AFTER };
  return undefined;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'No valid key',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  413: 'Too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  422: 'Invalid events',
  429: 'Rate limited',
  431: 'Headers too large',
  500: 'Internal error (a bug)',
  503: 'Unavailable for now',
};

/** One response per status for `codes` and every request's own, each naming its codes. */
export function errorResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of [...codes, ...EVERY_REQUEST_ERRORS]) {
    const status = ERRORS[code].status;
    if (!byStatus.has(status)) byStatus.set(status, new Set());
    byStatus.get(status)!.add(code);
  }
  const responses: Record<string, unknown> = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const statusCodes = [...byStatus.get(status)!];
    responses[String(status)] = {
      description: `${STATUS_TEXT[status] ?? 'Refused'}: ${statusCodes.join(', ')}`,
      ...(errorHeaders(status) && { headers: errorHeaders(status) }),
      content: {
        'application/json': {
          schema: {
            allOf: [{ $ref: `#/components/schemas/${ERROR_SCHEMA_NAME}` }],
            type: 'object',
            properties: { error: { type: 'object', properties: { code: { enum: statusCodes } } } },
          },
        },
      },
    };
  }
  return responses;
}
