import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import type { Topic } from '../topics/registry';

// Who may send a public topic's beacons: its allowedOrigins. Browsers send `Origin` on POST
// and on fetch; an <img> pixel sends none, so there the Referer's origin is checked. A request
// with neither (curl, a privacy proxy) is let through: there is no origin to hold against it.

export const SCHEMA_VERSION_HEADER = 'x-schema-version';

export function requestOrigin(headers: IncomingHttpHeaders): string | undefined {
  const origin = headers.origin;
  if (origin && origin !== 'null') return origin;
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
  return allowed.includes('*') || allowed.includes(origin);
}

/**
 * Whether a beacon with these headers may be sent to a topic: the error that refuses it
 * (service-only topic, foreign origin), else the `Origin` to echo in CORS headers, if any.
 * The Fastify route and the pixel fast path both decide with this.
 */
export function beaconAccess(topic: Topic, headers: IncomingHttpHeaders): { refusal?: GatewayError; corsOrigin?: string } {
  if (topic.config.access !== 'public') {
    return {
      refusal: new GatewayError(
        'SERVICE_ONLY_TOPIC',
        `topic ${topic.service}/${topic.name} is service-only: send it to POST /v1/events/${topic.service}/${topic.name}, not as a beacon`,
      ),
    };
  }
  const origin = requestOrigin(headers);
  if (origin === undefined) return {};
  if (!isOriginAllowed(topic, origin)) {
    return { refusal: new GatewayError('ORIGIN_NOT_ALLOWED', `origin ${origin} may not send ${topic.service}/${topic.name}; it is not in the topic's allowedOrigins`) };
  }
  return { corsOrigin: headers.origin || undefined };
}

/** Refuses service-only topics and foreign origins; sets CORS headers for allowed ones. */
export function checkBeaconAccess(topic: Topic, request: FastifyRequest, reply: FastifyReply): void {
  const { refusal, corsOrigin } = beaconAccess(topic, request.headers);
  if (refusal) throw refusal;
  if (corsOrigin) reply.headers(allowOriginHeaders(corsOrigin));
}

/** The CORS answer to an allowed `Origin` (sendBeacon and fetch send credentials). */
export function allowOriginHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
}

/** Answers a CORS preflight (fetch with keepalive and application/json sends one). */
export function answerPreflight(topic: Topic, request: FastifyRequest, reply: FastifyReply): void {
  checkBeaconAccess(topic, request, reply);
  reply
    .header('access-control-allow-methods', 'GET, POST')
    .header('access-control-allow-headers', `content-type, ${SCHEMA_VERSION_HEADER}`)
    .header('access-control-max-age', '86400')
    .code(204)
    .send();
}
