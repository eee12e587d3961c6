import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import proxyAddr from '@fastify/proxy-addr';
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig } from '../config/config';
import { GatewayError } from '../errors';
import type { Ingest } from '../ingest/ingest';
import type { GatewayMetrics } from '../metrics/metrics';
import type { Topic, TopicRegistry, TopicVersion } from '../topics/registry';
import { coerceParams } from './body-decoding';
import { allowOriginHeaders, beaconAccess } from './cors';
import { errorAnswer } from './error-handler';
import type { PublicPaths } from './paths';
import { PIXEL_CACHE_CONTROL, TRANSPARENT_GIF } from './pixel';
import { clip, readQuery } from './query';
import type { RateLimits } from './rate-limits';
import { versionOf } from './topic-lookup';

// The pixel GET is the gateway's hottest request, and Fastify's routing, hooks and reply
// objects cost more than the beacon itself (measured: 17.6k → 22.7k req/s on 2 cores). This
// answers the pixel on node:http before Fastify sees it, but only when every check passes:
// anything the route would refuse (unknown topic, service-only, foreign origin, bad version,
// a poisoned or malformed query) or that is not a plain pixel GET goes on to Fastify, whose
// route names the error. Nothing is accepted before that decision, so the handover changes
// no count. The answer is the route's, header for header (test/http/pixel-fast-path.test.ts).
// It takes the beacon path and its alias, from the same configured paths as the route.

const GIF_HEADERS = { 'content-type': 'image/gif', 'cache-control': PIXEL_CACHE_CONTROL, 'content-length': String(TRANSPARENT_GIF.length) };
const NO_CONTENT_HEADERS = { 'cache-control': PIXEL_CACHE_CONTROL };
/**
 * The GIF as latin1 text (one char per byte, the same bytes on the wire): node:http joins a
 * first string chunk to the header and writes both in one go, where a Buffer body takes a
 * second chunk, a writev and its chunk list on every pixel.
 */
const TRANSPARENT_GIF_TEXT = TRANSPARENT_GIF.toString('latin1');

/** One path the fast path answers: what its URLs start with, and its route's request metrics. */
interface BeaconPath {
  prefix: string;
  route: string;
  duration: { observe(seconds: number): void };
}

interface Pixel {
  topic: Topic;
  version: TopicVersion;
  event: Record<string, unknown>;
  status: 200 | 204;
  /** CORS answer for an allowed `Origin`. */
  origin: string | undefined;
}

export class PixelFastPath {
  private closing = false;
  private readonly beaconPaths: BeaconPath[];
  /** Client address as Fastify's `request.ip` gives it, through trusted proxies when configured. */
  private readonly clientIp: (request: IncomingMessage) => string;

  constructor(
    private readonly config: Readonly<GatewayConfig>,
    private readonly registry: TopicRegistry,
    private readonly ingest: Ingest,
    private readonly metrics: GatewayMetrics,
    private readonly rateLimits: RateLimits,
    private readonly log: FastifyBaseLogger,
    private readonly paths: PublicPaths,
  ) {
    this.beaconPaths = paths.beaconPrefixes.map((prefix, i) => ({ prefix, route: paths.beaconRoutes[i], duration: metrics.httpRequestDuration.labels(paths.beaconRoutes[i]) }));
    const trusted = config.server.trustProxy;
    // What Fastify's `request.ip` gives for the same `trustProxy`: the address before the
    // trusted hops (every hop when it is true).
    const trust = trusted === true ? () => true : Array.isArray(trusted) ? proxyAddr.compile(trusted) : undefined;
    this.clientIp = trust ? (request) => proxyAddr(request, trust) : (request) => request.socket.remoteAddress ?? '';
  }

  /** From now on every request goes to Fastify, which answers 503 while it closes. */
  close(): void {
    this.closing = true;
  }

  /** Answers a plain pixel GET and returns true; returns false for Fastify to answer. */
  answer(request: IncomingMessage, response: ServerResponse): boolean {
    const url = request.url ?? '';
    if (this.closing || request.method !== 'GET') return false;
    const beaconPath = this.beaconPathOf(url);
    if (beaconPath === undefined) return false;
    // Over-long URLs and a missing Host go to Fastify too, whose onRequest hook refuses them.
    if (url.length > this.config.server.maxUrlBytes || (request.headers.host === undefined && request.httpVersion === '1.1')) return false;
    const started = performance.now();
    const pixel = this.read(url, beaconPath.prefix.length, request);
    if (pixel === undefined) return false;
    const { topic, version } = pixel;

    let status: number = pixel.status;
    const needsAddress = this.config.envelope.clientIp !== 'none' || this.rateLimits.clientRule(topic) !== undefined;
    const clientIp = needsAddress ? this.clientIp(request) : '';
    try {
      // The same limit the Fastify hook applies (public-server.ts): the fast path skips no check.
      this.rateLimits.checkClient(clientIp, topic);
      this.ingest.accept({
        topic,
        version,
        events: [pixel.event],
        prevalidated: false,
        bodyBytes: url.length,
        mode: 'beacon',
        partial: true,
        source: this.paths.beaconPath(topic),
        clientIp,
        userAgent: request.headers['user-agent'],
      });
    } catch (err) {
      // Accepting counted a refused event already (OVERLOADED); a rate-limited one is counted here.
      if (!(err instanceof GatewayError)) this.log.error({ err, method: 'GET', url: clip(url, 200) }, 'unhandled error');
      const error = err instanceof GatewayError ? err : new GatewayError('INTERNAL', 'internal error');
      if (!error.counted) this.ingest.reject(topic, String(version.version), 1, error.reason);
      const answer = errorAnswer(error);
      status = answer.status;
      response.writeHead(status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) }).end(answer.body);
      this.count(beaconPath, status, started);
      return true;
    }
    if (pixel.origin !== undefined) {
      for (const [name, value] of Object.entries(allowOriginHeaders(pixel.origin))) response.setHeader(name, value);
    }
    if (status === 204) response.writeHead(204, NO_CONTENT_HEADERS).end();
    else response.writeHead(200, GIF_HEADERS).end(TRANSPARENT_GIF_TEXT, 'latin1');
    this.count(beaconPath, status, started);
    return true;
  }

  private beaconPathOf(url: string): BeaconPath | undefined {
    for (const beaconPath of this.beaconPaths) if (url.startsWith(beaconPath.prefix)) return beaconPath;
    return undefined;
  }

  /** The pixel a URL asks for, or undefined when anything about it is for Fastify to answer. */
  private read(url: string, prefixLength: number, request: IncomingMessage): Pixel | undefined {
    const queryStart = url.indexOf('?');
    const path = queryStart === -1 ? url.slice(prefixLength) : url.slice(prefixLength, queryStart);
    const slash = path.indexOf('/');
    // Escaped or extra path segments: Fastify's router decides what they mean.
    if (slash <= 0 || path.indexOf('/', slash + 1) !== -1 || path.includes('%')) return undefined;
    const topic = this.registry.get(path.slice(0, slash), path.slice(slash + 1));
    if (topic === undefined) return undefined;
    const headers = request.headers;
    try {
      const query = readQuery(url);
      const access = beaconAccess(topic, headers, query);
      if (access.refusal) return undefined;
      const version = versionOf(topic, query.v, headers);
      const event = coerceParams(query, version);
      return { topic, version, event, status: query.$status === '204' ? 204 : 200, origin: access.corsOrigin };
    } catch {
      return undefined;
    }
  }

  private count(beaconPath: BeaconPath, status: number, started: number): void {
    this.metrics.httpRequests.labels(beaconPath.route, 'GET', String(status)).inc();
    beaconPath.duration.observe((performance.now() - started) / 1000);
  }
}
