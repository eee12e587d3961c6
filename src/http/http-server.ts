import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { GatewayConfig } from '../config/config';
import { GatewayError, type ErrorCode } from '../errors';
import type { GatewayMetrics } from '../metrics/metrics';
import { errorAnswer } from './error-handler';
import { clip } from './query';

// The node:http server under each Fastify instance, made here so that every connection
// limit is set in one place: header size, whole-request and header timeouts, keep-alive idle
// time and the number of open connections. Requests Node's parser refuses before Fastify
// sees them (bad syntax, headers too large, the request timeout) are answered here, in the
// same error shape as every other refusal, and counted.

/** The `route` label of requests refused before routing. */
export const CLIENT_ERROR_ROUTE = 'client_error';

/** How often Node checks running requests against the timeouts; Node's own default is 30 s. */
const MAX_TIMEOUT_CHECK_MS = 1_000;

export type ServerLimits = Pick<
  GatewayConfig['server'],
  'maxHeaderBytes' | 'requestTimeoutMs' | 'headersTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'
>;

export function createLimitedServer(limits: ServerLimits, metrics: GatewayMetrics, listener: RequestListener): Server {
  const refuse = (response: ServerResponse, error: GatewayError) => answerBeforeRouting(response, error, metrics);
  // Node's parser takes any `HTTP/d.d` request line; only HTTP/1.0 and 1.1 are what this
  // server speaks. HTTP/2 comes as its own preface (refused by the parser), never as a
  // `HTTP/2.0` text line, and HTTP/0.9 has no headers to frame a body with.
  const framed: RequestListener = (request, response) => {
    if (request.httpVersionMajor !== 1) {
      refuse(response, new GatewayError('BAD_REQUEST', `HTTP/${clip(request.httpVersion, 8)} is not spoken here; send HTTP/1.1 (or HTTP/1.0)`));
      return;
    }
    listener(request, response);
  };
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(MAX_TIMEOUT_CHECK_MS, limits.headersTimeoutMs),
      // Node would answer a missing Host with a bare 400 of its own; the error handler answers
      // it instead, in the documented shape and counted (error-handler.ts).
      requireHostHeader: false,
    },
    framed,
  );
  // `Expect: 100-continue`: the interim answer waits until the request has passed every
  // check that needs no body (the route's onRequest hooks: key, scope, rate limits), so an
  // unknown caller is refused before it sends a byte of its body (sendContinue, below).
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    (request as ContinueAwaited)[AWAITS_CONTINUE] = true;
    framed(request, response);
  });
  // Any other expectation cannot be met; Node would answer 417 with an empty body.
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    refuse(response, new GatewayError('EXPECTATION_FAILED', `Expect: "${clip(String(request.headers.expect), 40)}" cannot be met; the only expectation taken is 100-continue`));
  });
  // Past it, Node closes new connections at once: a flood of sockets costs no memory.
  server.maxConnections = limits.maxConnections;
  // A client that half-closes after a complete request (`shutdown(SHUT_WR)`, some beacon
  // relays do) still gets its answer; by default Node aborts the request on the FIN.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Slow-loris without a request at all: an idle socket that never completes its headers is
  // cut by headersTimeout; one between keep-alive requests by keepAliveTimeout.
  return server;
}

const AWAITS_CONTINUE = Symbol('awaitsContinue');
type ContinueAwaited = IncomingMessage & { [AWAITS_CONTINUE]?: boolean };

/**
 * Sends `100 Continue` to a client that waits for it, once, as the body is about to be read
 * (a preParsing hook: after every onRequest hook has let the request through). A body whose
 * declared length is over the route's `bodyLimit` gets no 100: the 413 that the body parser
 * answers next is all the client hears, and it never sends the body.
 */
export function sendContinue(request: IncomingMessage, response: ServerResponse, bodyLimit: number): void {
  const awaited = request as ContinueAwaited;
  if (!awaited[AWAITS_CONTINUE]) return;
  awaited[AWAITS_CONTINUE] = false;
  const declared = Number(request.headers['content-length']);
  if (declared > bodyLimit) return;
  if (!response.headersSent) response.writeContinue();
}

/** A refusal before Fastify routes the request: the documented shape, counted, connection closed. */
function answerBeforeRouting(response: ServerResponse, error: GatewayError, metrics: GatewayMetrics): void {
  metrics.httpRequests.labels(CLIENT_ERROR_ROUTE, 'unknown', String(error.status)).inc();
  const answer = errorAnswer(error);
  response.shouldKeepAlive = false;
  response.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body), connection: 'close' }).end(answer.body);
}

function parserErrorCode(err: NodeJS.ErrnoException): ErrorCode {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'REQUEST_TIMEOUT';
    case 'HPE_HEADER_OVERFLOW':
      return 'HEADERS_TOO_LARGE';
    default:
      return 'BAD_REQUEST';
  }
}

const PARSER_MESSAGES: Partial<Record<ErrorCode, string>> = {
  REQUEST_TIMEOUT: 'the request (headers and body) did not arrive within the time allowed (server.requestTimeoutMs)',
  HEADERS_TOO_LARGE: 'the request line and headers are larger than the gateway takes (server.maxHeaderBytes)',
};

/**
 * Fastify's `clientErrorHandler`: the answer to a request Node's HTTP parser refused, then
 * the connection is closed. Nothing of the request is echoed: the parser's reason names the
 * kind of problem only.
 */
export function clientErrorHandler(metrics: GatewayMetrics): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const code = parserErrorCode(err);
    const error = new GatewayError(code, PARSER_MESSAGES[code] ?? `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`);
    metrics.httpRequests.labels(CLIENT_ERROR_ROUTE, 'unknown', String(error.status)).inc();
    // A response already under way on this socket must not be corrupted by a second one.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify({ error: { code: error.code, message: error.message } });
      socket.write(
        `HTTP/1.1 ${error.status} ${statusText(error.status)}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}

function statusText(status: number): string {
  return { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[status] ?? 'Bad Request';
}
