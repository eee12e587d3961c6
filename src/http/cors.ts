import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import type { Topic } from '../topics/registry';
import type { Query } from './query';

// Who may send a public topic's beacons: its allowedOrigins. Browsers send `Origin` on POST
// and on fetch; an <img> pixel sends none, so there the Referer's origin is checked. A request
// with neither (curl, a privacy proxy) is let through: there is no origin to hold against it.

export const SCHEMA_VERSION_HEADER = 'x-schema-version';
/** Where a beacon may carry its topic's publishable key, besides `?k=`. */
export const PUBLISHABLE_KEY_HEADER = 'x-publishable-key';

/**
 * The origin a browser request came from: `Origin`, else the Referer's. `Origin: null` is an
 * origin too (a sandboxed iframe, a `data:` or `file:` page, a redirect across sites): it is
 * returned as `null`, which a topic allows only by listing "null" — `*` does not cover it, or
 * any site could write through a sandboxed frame of its own.
 */
export function requestOrigin(headers: IncomingHttpHeaders): string | undefined {
  const origin = headers.origin;
  if (origin) return origin;
  const referer = headers.referer;
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

export function isOriginAllowed(topic: Topic, origin: string): boolean {
  const allowed = topic.config.allowedOrigins;
  if (origin === 'null') return allowed.includes('null');
  return allowed.includes('*') || allowed.includes(origin) || allowed.includes(anyPortOf(origin));
}

/**
 * `http://localhost:5173` → `http://localhost:*`: how a topic allows a loopback host on any
 * port (a development server picks its own). Only loopback hosts may be written so
 * (topic-config.ts): no other site can serve a page from the visitor's own machine.
 */
function anyPortOf(origin: string): string {
  const colon = origin.lastIndexOf(':');
  return colon > origin.indexOf('//') ? `${origin.slice(0, colon)}:*` : `${origin}:*`;
}

/**
 * Whether a beacon with these headers may be sent to a topic: the error that refuses it
 * (service-only topic, foreign origin, missing publishable key), else the `Origin` to echo in
 * CORS headers, if any. The Fastify route and the pixel fast path both decide with this.
 */
export function beaconAccess(topic: Topic, headers: IncomingHttpHeaders, query: Query | undefined): { refusal?: GatewayError; corsOrigin?: string } {
  if (topic.config.access !== 'public') {
    return {
      refusal: new GatewayError(
        'SERVICE_ONLY_TOPIC',
        `topic ${topic.service}/${topic.name} is service-only: send it to POST /v1/events/${topic.service}/${topic.name}, not as a beacon`,
      ),
    };
  }
  const publishable = topic.config.publishableKeys;
  // A preflight (no query) carries no key of its own: the request it announces is checked for one.
  if (publishable.length > 0 && query !== undefined) {
    const key = query.k ?? headers[PUBLISHABLE_KEY_HEADER];
    if (typeof key !== 'string' || !publishable.includes(key)) {
      return {
        refusal: new GatewayError(
          'PUBLISHABLE_KEY_REQUIRED',
          `topic ${topic.service}/${topic.name} takes beacons that name one of its publishable keys (?k= or ${PUBLISHABLE_KEY_HEADER})`,
        ),
      };
    }
  }
  const origin = requestOrigin(headers);
  if (origin === undefined) return {};
  if (!isOriginAllowed(topic, origin)) {
    return { refusal: new GatewayError('ORIGIN_NOT_ALLOWED', `origin ${origin} may not send ${topic.service}/${topic.name}; it is not in the topic's allowedOrigins`) };
  }
  return { corsOrigin: headers.origin || undefined };
}

/** Refuses service-only topics, foreign origins and missing publishable keys; sets CORS headers for allowed ones. */
export function checkBeaconAccess(topic: Topic, request: FastifyRequest, query: Query | undefined, reply: FastifyReply): void {
  const { refusal, corsOrigin } = beaconAccess(topic, request.headers, query);
  if (refusal) throw refusal;
  if (corsOrigin) reply.headers(allowOriginHeaders(corsOrigin));
}

/** The CORS answer to an allowed `Origin` (sendBeacon and fetch send credentials). */
export function allowOriginHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
}

/** Answers a CORS preflight (fetch with keepalive and application/json sends one). */
export function answerPreflight(topic: Topic, request: FastifyRequest, reply: FastifyReply): void {
  checkBeaconAccess(topic, request, undefined, reply);
  reply
    .header('access-control-allow-methods', 'GET, POST')
    .header('access-control-allow-headers', `content-type, ${SCHEMA_VERSION_HEADER}, ${PUBLISHABLE_KEY_HEADER}`)
    .header('access-control-max-age', '86400')
    .code(204)
    .send();
}
