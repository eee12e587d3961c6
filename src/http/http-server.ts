import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { GatewayConfig } from '../config/config';
import { GatewayError, type ErrorCode } from '../errors';
import type { GatewayMetrics } from '../metrics/metrics';

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

export function createLimitedServer(limits: ServerLimits, listener: RequestListener): Server {
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
    listener,
  );
  // Past it, Node closes new connections at once: a flood of sockets costs no memory.
  server.maxConnections = limits.maxConnections;
  // A client that half-closes after a complete request (`shutdown(SHUT_WR)`, some beacon
  // relays do) still gets its answer; by default Node aborts the request on the FIN.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Slow-loris without a request at all: an idle socket that never completes its headers is
  // cut by headersTimeout; one between keep-alive requests by keepAliveTimeout.
  return server;
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
