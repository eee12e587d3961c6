import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DeadLetterFilter, DeadLetterListing } from '../destinations/dead-letter/dead-letter-store';
import { MAX_LIST_ENTRIES } from '../destinations/dead-letter/dead-letter-store';
import { GatewayError } from '../errors';
import type { RedriveResult } from '../ingest/dead-letter-redrive';
import type { EventStream } from '../inspect/event-stream';
import type { InspectorState } from '../inspect/inspector-state';

// The inspector on the admin port: the page (static files from src/inspect/page, copied
// beside the compiled code by the build), its live stream, the state it polls, and the dead
// letter with its re-drive. Never on the public port.

/** What the routes ask: one gateway's, or a cluster primary's that asks every worker. */
export interface InspectorBackend {
  stream: EventStream;
  state(): Promise<InspectorState | undefined>;
  deadLetters(filter: DeadLetterFilter): Promise<DeadLetterListing>;
  redrive(filter: DeadLetterFilter, dryRun: boolean): Promise<RedriveResult[]>;
}

const PAGE_DIR = join(__dirname, '..', 'inspect', 'page');
const PAGE_FILES: Record<string, string> = {
  '/inspect': 'index.html',
  '/inspect/app.js': 'app.js',
  '/inspect/style.css': 'style.css',
};
const CONTENT_TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
/** The page's own files only; nothing else may run in it. */
const PAGE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const MAX_IDS = MAX_LIST_ENTRIES;
const filterProperties = {
  topic: { type: 'string', maxLength: 200, pattern: '^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?$' },
  reason: { type: 'string', enum: ['invalid', 'event_too_large', 'too_large', 'malformed'] },
  since: { type: 'string', maxLength: 40 },
  until: { type: 'string', maxLength: 40 },
  limit: { type: 'integer', minimum: 1, maximum: MAX_LIST_ENTRIES },
} as const;

interface FilterInput {
  topic?: string;
  reason?: string;
  since?: string;
  until?: string;
  limit?: number;
  ids?: string[];
}

/** ms since the epoch from an RFC 3339 time or digits of ms. */
export function timeBound(text: string | undefined, key: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = /^\d{1,16}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new GatewayError('BAD_PARAMETER', `${key} must be an RFC 3339 time or ms since the epoch`);
  return ms;
}

function filterOf(input: FilterInput): DeadLetterFilter {
  return { topic: input.topic, reason: input.reason, since: timeBound(input.since, 'since'), until: timeBound(input.until, 'until'), limit: input.limit, ids: input.ids };
}

export function installInspectorRoutes(app: FastifyInstance, backend: InspectorBackend): void {
  const files = Object.fromEntries(Object.entries(PAGE_FILES).map(([url, file]) => [url, { body: readFileSync(join(PAGE_DIR, file)), type: CONTENT_TYPES[file.split('.').pop()!] }]));
  for (const [url, { body, type }] of Object.entries(files)) {
    app.get(url, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').header('content-security-policy', PAGE_CSP).header('x-content-type-options', 'nosniff').send(body));
  }

  app.get('/inspect/stream', async (_request, reply) => {
    if (!backend.stream.hasRoom()) throw new GatewayError('INSPECTOR_FULL', 'as many pages watch the live stream as inspector.maxSubscribers allows; close one or retry later', { retryAfterSeconds: 5 });
    reply.hijack();
    backend.stream.subscribe(reply.raw);
  });

  app.get('/inspect/state', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return (await backend.state()) ?? { at: Date.now(), workers: [], topics: [], destinations: {}, spool: null, deadLetter: { bytes: 0, limitBytes: 0 } };
  });

  app.get<{ Querystring: FilterInput }>(
    '/inspect/dead-letter',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: filterProperties } } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return backend.deadLetters(filterOf(request.query));
    },
  );

  // JSON only: a cross-site form or beacon (text/plain, no preflight) cannot re-drive.
  app.post<{ Body: FilterInput & { dryRun?: boolean; confirm?: boolean } }>(
    '/inspect/dead-letter/replay',
    {
      bodyLimit: 64 * 1024,
      preValidation: async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (type !== 'application/json') throw new GatewayError('UNSUPPORTED_CONTENT_TYPE', 're-drive takes application/json only');
      },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...filterProperties,
            ids: { type: 'array', maxItems: MAX_IDS, items: { type: 'string', minLength: 1, maxLength: 300 } },
            dryRun: { type: 'boolean' },
            confirm: { type: 'boolean' },
          },
        },
      },
    },
    async (request) => {
      const { dryRun = false, confirm = false, ...filter } = request.body ?? {};
      if (!dryRun && !confirm) throw new GatewayError('BAD_PARAMETER', 're-driving needs "confirm": true (or "dryRun": true to only validate)');
      const results = await backend.redrive(filterOf(filter), dryRun);
      const counts: Record<string, number> = {};
      for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
      return { dryRun, counts, results };
    },
  );
}
