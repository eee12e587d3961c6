import type { FastifyRequest } from 'fastify';
import type { Topic } from '../topics/registry';

/** What a handler learned before failing, so the error handler can count refused events. */
export interface RequestTally {
  topic?: Topic;
  version?: number;
  /** Events in the request, once decoded. */
  events?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    tally: RequestTally | null;
  }
}

export function tallyOf(request: FastifyRequest): RequestTally {
  return (request.tally ??= {});
}
