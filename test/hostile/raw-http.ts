import { connect, type Socket } from 'node:net';

// A minimal HTTP/1.1 client over node:net for the attack tests: it writes exactly the bytes it
// is given (no header checks, no automatic framing), reads whatever comes back and parses one
// response (Content-Length, chunked, or up to the close). node:http would refuse to send most
// of the corpus, and would hide what the server actually put on the wire.

export interface RawAnswer {
  status: number;
  reason: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** Bytes of the whole response (status line, headers and body). */
  bytes: number;
}

export type Outcome =
  | { kind: 'answer'; answer: RawAnswer; ms: number; socket?: Socket }
  /** The server closed (or reset) the connection without a complete answer. */
  | { kind: 'closed'; ms: number; detail: string; received: number }
  /** Nothing complete within the time allowed. */
  | { kind: 'timeout'; ms: number; received: number }
  /** Nothing listens: the process is gone (or not yet up). */
  | { kind: 'refused'; ms: number; detail: string };

export interface ExchangeOptions {
  port: number;
  host?: string;
  /** What to write. */
  data: Buffer;
  /** Give up (and destroy the socket) after this long. */
  timeoutMs: number;
  /** The request was a HEAD: its answer has no body whatever its headers say. */
  head?: boolean;
  /** socket.end() once everything is written: the client half-closes and waits. */
  halfClose?: boolean;
  /** Write the first `afterBytes` at once, then one byte every `intervalMs`. */
  dribble?: { afterBytes: number; intervalMs: number };
  /** Called once every byte (dribbling: the first part) has been handed to the socket, or the write stopped. */
  onWritten?: () => void;
  /** Leave the socket open after the answer, returned in the outcome (keep-alive tests). */
  keepOpen?: boolean;
}

const WRITE_CHUNK = 64 * 1024;

/** One request's bytes out, one response in. Never rejects: every end is an Outcome. */
export function exchange(options: ExchangeOptions): Promise<Outcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise<Outcome>((resolve) => {
    const reader = new ResponseReader(options.head === true);
    let settled = false;
    let connected = false;
    let lastError = '';
    let received = 0;
    const socket = connect({ port: options.port, host: options.host ?? '127.0.0.1' });
    socket.setNoDelay(true);
    const timer = setTimeout(() => finish({ kind: 'timeout', ms: elapsed(), received }), options.timeoutMs);

    function finish(outcome: Outcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome.kind === 'answer' && options.keepOpen) {
        resolve({ ...outcome, socket });
        return;
      }
      socket.destroy();
      resolve(outcome);
    }

    socket.on('connect', () => {
      connected = true;
      void write();
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      const answer = reader.push(chunk);
      if (answer) finish({ kind: 'answer', answer, ms: elapsed() });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? err.message;
      if (!connected) finish({ kind: 'refused', ms: elapsed(), detail: lastError });
    });
    socket.on('close', () => {
      const answer = reader.end();
      if (answer) finish({ kind: 'answer', answer, ms: elapsed() });
      else finish({ kind: 'closed', ms: elapsed(), detail: lastError || (received > 0 ? `closed after ${received} bytes of an incomplete answer` : 'closed without an answer'), received });
    });

    async function write(): Promise<void> {
      const { data } = options;
      const firstPart = options.dribble ? Math.min(options.dribble.afterBytes, data.length) : data.length;
      try {
        for (let offset = 0; offset < firstPart && !settled && !socket.destroyed; offset += WRITE_CHUNK) {
          const chunk = data.subarray(offset, Math.min(offset + WRITE_CHUNK, firstPart));
          if (!socket.write(chunk)) await drained(socket);
        }
        // The request is out (or, dribbling, its first part): the case is in flight from here.
        options.onWritten?.();
        if (options.dribble) {
          for (let offset = firstPart; offset < data.length && !settled && !socket.destroyed; offset++) {
            await new Promise((r) => setTimeout(r, options.dribble!.intervalMs));
            if (settled || socket.destroyed) break;
            socket.write(data.subarray(offset, offset + 1));
          }
        }
      } catch {
        // the server closed while we wrote: the answer (if any) decides
      }
      if (options.halfClose && !settled && !socket.destroyed) socket.end();
    }
  });
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** Parses one HTTP/1.x response as bytes arrive; skips 1xx interim answers. */
export class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly head: boolean) {}

  /** Adds bytes; returns the answer once it is complete. */
  push(chunk: Buffer): RawAnswer | undefined {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    return this.parse(false);
  }

  /** The connection closed: a close-delimited body is complete now. */
  end(): RawAnswer | undefined {
    return this.parse(true);
  }

  private parse(closed: boolean): RawAnswer | undefined {
    for (;;) {
      const headEnd = this.buffer.indexOf('\r\n\r\n');
      if (headEnd === -1) return undefined;
      const lines = this.buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
      const statusLine = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
      if (!statusLine) return undefined; // not HTTP: reported as closed without an answer
      const status = Number(statusLine[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      const bodyStart = headEnd + 4;
      if (status >= 100 && status < 200 && status !== 101) {
        this.buffer = this.buffer.subarray(bodyStart);
        continue;
      }
      const done = (body: Buffer, end: number): RawAnswer => ({ status, reason: statusLine[2] ?? '', headers, body, bytes: end });
      if (this.head || status === 204 || status === 304) return done(Buffer.alloc(0), bodyStart);
      if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
        const chunked = decodeChunked(this.buffer, bodyStart);
        if (chunked) return done(chunked.body, chunked.end);
        return closed ? done(this.buffer.subarray(bodyStart), this.buffer.length) : undefined;
      }
      if (headers['content-length'] !== undefined) {
        const length = Number(headers['content-length'].split(',')[0]);
        if (this.buffer.length >= bodyStart + length) return done(this.buffer.subarray(bodyStart, bodyStart + length), bodyStart + length);
        return undefined;
      }
      return closed ? done(this.buffer.subarray(bodyStart), this.buffer.length) : undefined;
    }
  }
}

function decodeChunked(buffer: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let offset = start;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', offset);
    if (lineEnd === -1) return undefined;
    const size = parseInt(buffer.subarray(offset, lineEnd).toString('latin1').split(';')[0], 16);
    if (!Number.isFinite(size)) return undefined;
    offset = lineEnd + 2;
    if (size === 0) {
      // Trailers, if any, end with an empty line.
      const end = buffer.indexOf('\r\n\r\n', offset - 2);
      if (end === -1) return undefined;
      return { body: Buffer.concat(parts), end: end + 4 };
    }
    if (buffer.length < offset + size + 2) return undefined;
    parts.push(buffer.subarray(offset, offset + size));
    offset += size + 2;
  }
}

export type HeaderValue = string | string[];

/** A request as the corpus states it; serialised to bytes by `requestBytes`. */
export interface HttpSend {
  method: string;
  /** Path and query, exactly as sent on the request line. */
  path: string;
  headers?: Record<string, HeaderValue>;
  body?: Buffer;
}

/**
 * The bytes of an HTTP/1.1 request: Host and `Connection: close` unless given, and a
 * Content-Length for the body unless the headers frame it themselves. A header given as
 * `null`-like empty array is left out (a request with no Host at all).
 */
export function requestBytes(request: HttpSend, host = '127.0.0.1'): Buffer {
  const headers: [string, string][] = [];
  const given = Object.fromEntries(Object.keys(request.headers ?? {}).map((k) => [k.toLowerCase(), true]));
  if (!given.host) headers.push(['Host', host]);
  if (!given.connection) headers.push(['Connection', 'close']);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) headers.push([name, v]);
  }
  const body = request.body ?? Buffer.alloc(0);
  if (!given['content-length'] && !given['transfer-encoding'] && (body.length > 0 || request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH')) {
    headers.push(['Content-Length', String(body.length)]);
  }
  const head = `${request.method} ${request.path} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** The JSON body of an answer, or undefined. */
export function jsonOf(answer: RawAnswer): any {
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Problems with a refusal's shape: `{"error":{"code":string,"message":string,…}}` as JSON. */
export function refusalShapeProblems(answer: RawAnswer): string[] {
  const problems: string[] = [];
  if (!/^application\/json\b/i.test(answer.headers['content-type'] ?? '')) problems.push(`content-type is ${JSON.stringify(answer.headers['content-type'])}, not application/json`);
  const json = jsonOf(answer);
  if (json === undefined) {
    problems.push(`body is not JSON: ${JSON.stringify(answer.body.subarray(0, 120).toString('latin1'))}`);
    return problems;
  }
  const error = json?.error;
  if (typeof error !== 'object' || error === null || Array.isArray(error)) problems.push(`body has no "error" object: ${JSON.stringify(json).slice(0, 160)}`);
  else {
    if (typeof error.code !== 'string') problems.push(`error.code is ${typeof error.code}, not a string`);
    if (typeof error.message !== 'string') problems.push(`error.message is ${typeof error.message}, not a string`);
  }
  return problems;
}

/** "200", "413 DECODED_TOO_LARGE", "closed", "timeout", "refused": how an outcome is printed. */
export function describeOutcome(outcome: Outcome): string {
  if (outcome.kind !== 'answer') return outcome.kind;
  const code = jsonOf(outcome.answer)?.error?.code;
  return typeof code === 'string' ? `${outcome.answer.status} ${code}` : String(outcome.answer.status);
}
