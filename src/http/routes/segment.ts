import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { presentedKey, type KeyRing, type ServiceKey } from '../../auth/service-keys';
import type { GatewayConfig } from '../../config/config';
import type { DeadLetterRecord } from '../../destinations/dead-letter/dead-letter';
import { ERRORS, GatewayError, type ErrorCode, type EventError } from '../../errors';
import type { Ingest, IngestResult } from '../../ingest/ingest';
import { durableWithin } from '../../route/ack';
import type { GatewayMetrics } from '../../metrics/metrics';
import { callPath, eventOfCall, isObject } from '../../segment/call-mapping';
import { SEGMENT_CALL_TYPES, type SegmentCallType } from '../../segment/segment-config';
import { SegmentTopics } from '../../segment/segment-topics';
import type { Topic, TopicRegistry } from '../../topics/registry';
import { decodeJsonObject, mediaTypeOf, type DecodeLimits } from '../body-decoding';
import type { DecodedLimit } from '../content-encoding';
import { allowOriginHeaders, isOriginAllowed, requestOrigin } from '../cors';
import type { PublicPaths } from '../paths';
import { clip } from '../query';
import type { RateLimits } from '../rate-limits';
import { tallyOf } from '../request-context';

// The Segment HTTP Tracking API (docs/segment.md): POST <prefix>/batch, /track, /identify,
// /page, /screen, /group, /alias, and the browser SDK's short names (/b, /t, /i, …). Each call
// goes to the topic that declares it and is checked by that topic's schema, through the same
// ingest as /v1/events.
//
// What the SDKs do with an answer decides the design: @segment/analytics-node, rudder-sdk-node
// and analytics-next drop a whole batch on a 4xx (except 408/410/429/460) and retry it on 429
// and 5xx. So a batch holding one invalid call must not get a 4xx: the valid calls are
// delivered and the answer is 200 `{"success":true}` with the refused calls listed; a 4xx comes
// only when no call of the request can be taken (unreadable body, bad key, over the size
// bound, every call refused). Retried answers (429, 503) come before any call is accepted, or
// after some were (overload, durability timeout): then the retry may repeat calls, each with
// its messageId as `$id` for deduplication, rather than lose any.

/** How much of a client's event name or origin an error repeats. */
const EVENT_NAME_SHOWN = 100;

export interface SegmentRouteParts {
  config: Readonly<GatewayConfig>;
  registry: TopicRegistry;
  ingest: Ingest;
  metrics: GatewayMetrics;
  keys: KeyRing;
  rateLimits: RateLimits;
  paths: PublicPaths;
  prefix: string;
}

/** Who sent the request: a service key (server SDKs) or a topic's publishable key (browser SDKs). */
type Credential = { kind: 'service'; key: ServiceKey } | { kind: 'publishable'; key: string };

/** The calls one topic takes from a request, with their indices in it. */
interface TopicGroup {
  topic: Topic;
  indices: number[];
  types: SegmentCallType[];
  events: Record<string, unknown>[];
}

const SHORT_NAMES: Record<SegmentCallType, string> = { track: 't', identify: 'i', page: 'p', screen: 's', group: 'g', alias: 'a' };
const CALL_TYPES: ReadonlySet<string> = new Set(SEGMENT_CALL_TYPES);
/** Where a browser's fetch may read the answer, and what its preflight may ask for. */
const PREFLIGHT_HEADERS = 'content-type, authorization, x-retry-count';
/** A Host the settings document may name as apiHost: a name or address and a port, nothing else. */
const HOST = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?$/;

export function segmentRoutes(app: FastifyInstance, parts: SegmentRouteParts): void {
  const { config, registry, ingest, metrics, keys, rateLimits, prefix } = parts;
  const segment = config.segment;
  const topics = new SegmentTopics(registry.list());
  const calls = new Set<string>(segment.calls);
  const limits: DecodeLimits = { maxEvents: config.server.maxEventsPerRequest, maxDecodedBytes: segment.maxBatchBytes };
  const credentials = new WeakMap<FastifyRequest, Credential>();

  /** The key of an Authorization header, checked before the body is read; without one, the body's writeKey is. */
  const authenticate = (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
    try {
      if (request.headers.authorization !== undefined) credentials.set(request, credentialOf(request.headers.authorization, presentedKey(request.headers.authorization)));
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  };

  function credentialOf(header: string | undefined, presented: string | undefined): Credential {
    if (presented !== undefined && topics.publishableKeys.has(presented)) return { kind: 'publishable', key: presented };
    const key = keys.authenticate(header);
    rateLimits.checkKey(key);
    return { kind: 'service', key };
  }

  const batchLimit: DecodedLimit = { bytes: segment.maxBatchBytes, key: 'segment.maxBatchBytes' };
  const callLimit: DecodedLimit = { bytes: segment.maxCallBytes, key: 'segment.maxCallBytes' };
  const post = (path: string, limit: DecodedLimit, type: SegmentCallType | undefined) => {
    app.post<{ Body: Buffer }>(path, { onRequest: authenticate, bodyLimit: limit.bytes, config: { decodedLimit: limit } }, (request, reply) => answer(request, reply, type));
    app.options(path, (request, reply) => preflight(request, reply));
  };
  post(`${prefix}/batch`, batchLimit, undefined);
  post(`${prefix}/b`, batchLimit, undefined);
  for (const type of SEGMENT_CALL_TYPES) {
    post(`${prefix}/${type}`, callLimit, type);
    post(`${prefix}/${SHORT_NAMES[type]}`, callLimit, type);
  }
  app.get<{ Params: { writeKey: string } }>(`${prefix}/projects/:writeKey/settings`, (request, reply) => settings(request, reply));

  async function answer(request: FastifyRequest<{ Body: Buffer }>, reply: FastifyReply, pathType: SegmentCallType | undefined) {
    const body = request.body ?? Buffer.alloc(0);
    const decoded = decodeJsonObject(mediaTypeOf(request.headers['content-type']), body, limits);
    let credential = credentials.get(request);
    if (credential === undefined) {
      const writeKey = decoded.writeKey;
      if (typeof writeKey !== 'string' || writeKey.length === 0) {
        throw new GatewayError('UNAUTHORIZED', 'send the write key as the Basic user name, as Authorization: Bearer <key>, or as "writeKey" in the body');
      }
      credential = credentialOf(`Bearer ${writeKey}`, writeKey.length <= 256 ? writeKey : undefined);
    }
    const list = callsOf(decoded, pathType);
    tallyOf(request).events = list.length;
    const origin = requestOrigin(request.headers);
    const refused: EventError[] = [];
    const deadLetters: DeadLetterRecord[] = [];
    const receivedAt = Date.now();
    const source = request.url.split('?')[0];
    const refuse = (index: number, call: unknown, type: string | undefined, code: ErrorCode, path: string, message: string, topic?: Topic) => {
      const event = isObject(call) && typeof call.event === 'string' ? clip(call.event, EVENT_NAME_SHOWN) : undefined;
      refused.push({ index, type, event, code, path, message });
      const service = topic?.service ?? '_segment';
      const name = topic?.name ?? (type !== undefined && CALL_TYPES.has(type) ? type : '_unknown');
      metrics.events.labels(service, name, '', 'rejected').inc();
      metrics.eventsRejected.labels(service, name, ERRORS[code].reason).inc();
      if (segment.deadLetterRefused || credential.kind === 'publishable') {
        deadLetters.push({ reason: 'invalid', message: `${path ? `${path}: ` : ''}${message}`, service, topic: name, receivedAt, source, errors: [{ path, message }], payload: call });
      }
    };

    const groups = new Map<Topic, TopicGroup>();
    const measure = body.length > segment.maxCallBytes;
    list.forEach((call, index) => {
      if (!isObject(call)) return refuse(index, call, undefined, 'MALFORMED_CALL', '', `a call must be a JSON object, got ${Array.isArray(call) ? 'array' : call === null ? 'null' : typeof call}`);
      const type = pathType ?? call.type;
      if (typeof type !== 'string' || !CALL_TYPES.has(type)) {
        return refuse(index, call, undefined, 'MALFORMED_CALL', 'type', `type must be one of ${SEGMENT_CALL_TYPES.join(', ')}`);
      }
      const callType = type as SegmentCallType;
      if (!calls.has(callType)) return refuse(index, call, callType, 'CALL_TYPE_OFF', 'type', `${callType} calls are not taken here (segment.calls is ${[...calls].join(', ') || 'empty'})`);
      if (measure) {
        const bytes = Buffer.byteLength(JSON.stringify(call));
        if (bytes > segment.maxCallBytes) return refuse(index, call, callType, 'CALL_TOO_LARGE', '', `the call is ${bytes} bytes; a call may be at most ${segment.maxCallBytes} (segment.maxCallBytes)`);
      }
      if (callType === 'track' && (typeof call.event !== 'string' || call.event.length === 0)) {
        return refuse(index, call, callType, 'MALFORMED_CALL', 'event', 'a track call needs its event name as a non-empty string');
      }
      for (const key of ['properties', 'traits', 'context'] as const) {
        if (call[key] !== undefined && call[key] !== null && !isObject(call[key])) return refuse(index, call, callType, 'MALFORMED_CALL', key, `${key} must be an object`);
      }
      const topic = topics.topicFor(callType, call.event as string | undefined);
      if (!topic) {
        return callType === 'track'
          ? refuse(index, call, callType, 'UNMAPPED_CALL', 'event', `no topic takes track "${clip(call.event as string, EVENT_NAME_SHOWN)}"; map it with segment.track in a topic's config`)
          : refuse(index, call, callType, 'UNMAPPED_CALL', 'type', `no topic takes ${callType} calls; map them with segment.${callType}: true in a topic's config`);
      }
      const denied = accessRefusal(credential, topic, origin);
      if (denied) return refuse(index, call, callType, denied.code, '', denied.message, topic);
      if (call.context === undefined && isObject(decoded.context)) call.context = decoded.context;
      let group = groups.get(topic);
      if (!group) groups.set(topic, (group = { topic, indices: [], types: [], events: [] }));
      group.indices.push(index);
      group.types.push(callType);
      group.events.push(eventOfCall(call, callType, topic.versions.get(topic.config.defaultVersion)!));
    });
    ingest.deadLetterRefused(deadLetters);

    const mode = credential.kind === 'service' ? 'service' : 'beacon';
    let accepted = 0;
    const durable: Promise<boolean>[] = [];
    for (const group of groups.values()) {
      const { topic } = group;
      const version = topic.versions.get(topic.config.defaultVersion)!;
      const result: IngestResult = await ingest.acceptBatch({
        topic,
        version,
        events: group.events,
        prevalidated: false,
        // The group's share of the body: what ingest estimates sizes from.
        bodyBytes: Math.ceil((body.length * group.events.length) / Math.max(list.length, 1)),
        mode,
        partial: true,
        deadLetterInvalid: segment.deadLetterRefused,
        source,
        clientIp: request.ip,
        userAgent: request.headers['user-agent'],
      });
      accepted += result.accepted;
      if (result.durable) durable.push(result.durable);
      for (const error of result.errors) {
        const index = group.indices[error.index];
        const type = group.types[error.index];
        const call = list[index] as Record<string, unknown>;
        refused.push({ index, type, event: typeof call.event === 'string' ? clip(call.event, EVENT_NAME_SHOWN) : undefined, code: 'INVALID_EVENTS', path: callPath(error.path, type, version), message: error.message });
      }
    }
    refused.sort((a, b) => a.index - b.index);
    metrics.segmentCalls.labels('accepted').inc(accepted);
    metrics.segmentCalls.labels('refused').inc(list.length - accepted);
    if (durable.length > 0 && !(await durableWithin(Promise.all(durable).then((all) => all.every(Boolean)), config.server.ackTimeoutMs))) {
      throw new GatewayError(
        'DELIVERY_FAILED',
        `the calls were accepted but not confirmed durable within ${config.server.ackTimeoutMs} ms; they stay queued and may still be delivered — a retry repeats them with the same messageId`,
        { retryAfterSeconds: config.server.retryAfterSeconds, counted: true },
      );
    }
    const shown = refused.slice(0, config.server.maxErrorsReturned);
    const more = refused.length - shown.length;
    if (credential.kind === 'publishable' && origin !== undefined && request.headers.origin && originAllowedForKey(credential.key, request.headers.origin)) {
      reply.headers(allowOriginHeaders(request.headers.origin));
    }
    if (accepted === 0 && refused.length > 0 && credential.kind === 'service') {
      // Nothing of the request can be taken: a 4xx the SDK drops, with every reason.
      throw new GatewayError('INVALID_EVENTS', `none of the ${list.length} calls was accepted`, { events: shown, moreErrors: more, counted: true });
    }
    return reply.code(200).send({ success: true, accepted, refused: shown.length > 0 ? shown : undefined, moreRefused: more || undefined });
  }

  function callsOf(decoded: Record<string, unknown>, pathType: SegmentCallType | undefined): unknown[] {
    if (pathType !== undefined) return [decoded];
    const batch = decoded.batch;
    if (!Array.isArray(batch)) throw new GatewayError('MALFORMED_BODY', 'body.batch: must be an array of calls');
    if (batch.length === 0) throw new GatewayError('MALFORMED_BODY', 'body.batch: an empty batch holds no call');
    if (batch.length > limits.maxEvents) {
      throw new GatewayError('TOO_MANY_EVENTS', `the batch holds ${batch.length} calls; send at most ${limits.maxEvents} per request (server.maxEventsPerRequest)`);
    }
    return batch;
  }

  function accessRefusal(credential: Credential, topic: Topic, origin: string | undefined): { code: ErrorCode; message: string } | undefined {
    if (credential.kind === 'service') {
      try {
        keys.authorize(credential.key, topic.service, topic.name);
      } catch (err) {
        return { code: 'FORBIDDEN_SCOPE', message: (err as Error).message };
      }
      return undefined;
    }
    if (topic.config.access !== 'public') {
      return { code: 'SERVICE_ONLY_TOPIC', message: `topic ${topic.service}/${topic.name} is service-only: its calls need a service key, not a publishable one` };
    }
    // A keyless public topic takes beacons from anyone on its origins; one with keys, only its own.
    const own = topic.config.publishableKeys;
    if (own.length > 0 && !own.includes(credential.key)) {
      return { code: 'PUBLISHABLE_KEY_REQUIRED', message: `the write key is not one of topic ${topic.service}/${topic.name}'s publishable keys` };
    }
    if (origin !== undefined && !isOriginAllowed(topic, origin)) {
      return { code: 'ORIGIN_NOT_ALLOWED', message: `origin ${origin} may not send ${topic.service}/${topic.name}; it is not in the topic's allowedOrigins` };
    }
    return undefined;
  }

  /** Whether some public topic with this publishable key takes calls from `origin`. */
  function originAllowedForKey(key: string | undefined, origin: string): boolean {
    return registry.list().some((t) => t.config.segment && t.config.access === 'public' && (key === undefined || t.config.publishableKeys.includes(key)) && isOriginAllowed(t, origin));
  }

  /** A browser asks before it sends a body with an Authorization header (analytics-next does). */
  function preflight(request: FastifyRequest, reply: FastifyReply) {
    const origin = request.headers.origin;
    if (origin === undefined || !originAllowedForKey(undefined, origin)) {
      throw new GatewayError('ORIGIN_NOT_ALLOWED', `origin ${clip(origin ?? '(none)', EVENT_NAME_SHOWN)} is not in the allowedOrigins of any public topic that takes Segment calls`);
    }
    return reply
      .headers(allowOriginHeaders(origin))
      .header('access-control-allow-methods', 'POST')
      .header('access-control-allow-headers', PREFLIGHT_HEADERS)
      .header('access-control-max-age', '86400')
      .code(204)
      .send();
  }

  /**
   * The settings document analytics-next loads from its cdnURL: the gateway as its API host, no
   * device-mode integrations, no metrics sent to Segment. Only for publishable keys: a service
   * key is never confirmed to a caller.
   */
  function settings(request: FastifyRequest<{ Params: { writeKey: string } }>, reply: FastifyReply) {
    const writeKey = request.params.writeKey;
    if (!topics.publishableKeys.has(writeKey)) throw new GatewayError('NOT_FOUND', 'no settings for this write key: it is not a publishable key of a public topic that takes Segment calls');
    const host = request.host;
    if (!HOST.test(host)) throw new GatewayError('BAD_REQUEST', 'the Host header is not a host name and port');
    const origin = request.headers.origin;
    if (origin && originAllowedForKey(writeKey, origin)) reply.headers(allowOriginHeaders(origin));
    return reply
      .header('cache-control', 'no-store')
      .send({
        integrations: { 'Segment.io': { apiKey: writeKey, apiHost: `${host}${prefix}`, protocol: request.protocol, unbundledIntegrations: [], addBundledMetadata: false } },
        plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
        edgeFunction: {},
        analyticsNextEnabled: true,
        middlewareSettings: {},
        enabledMiddleware: {},
        metrics: { sampleRate: 0 },
        legacyVideoPluginsEnabled: false,
        remotePlugins: [],
      });
  }
}

