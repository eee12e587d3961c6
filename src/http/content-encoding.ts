import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { GatewayError } from '../errors';

// Request bodies compressed by the client (many tracking SDKs gzip their batches). Each is
// inflated off the main thread with a hard cap on its output: zlib stops at `maxOutputLength`
// and errors, so a 1 MiB bomb that would inflate to gigabytes costs at most the cap.

type Inflate = (body: Buffer, options: zlib.ZlibOptions & zlib.BrotliOptions) => Promise<Buffer>;

const INFLATERS: Record<string, Inflate> = {
  gzip: promisify(zlib.gunzip),
  'x-gzip': promisify(zlib.gunzip),
  // HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate; inflate() takes only
  // the first, unzip() takes gzip or zlib, so raw deflate is tried when the header is absent.
  deflate: (body, options) => promisify(zlib.inflate)(body, options).catch((err) => (isHeaderError(err) ? promisify(zlib.inflateRaw)(body, options) : Promise.reject(err))),
  br: promisify(zlib.brotliDecompress),
};
// zstd arrived in node:zlib with Node 23.8 / 22.15; offered where the runtime has it.
const zstd = (zlib as unknown as { zstdDecompress?: typeof zlib.gunzip }).zstdDecompress;
if (zstd) INFLATERS.zstd = promisify(zstd);

/** A route's own bound on its decoded body, and the config key that sets it (for the 413's message). */
export interface DecodedLimit {
  bytes: number;
  key: string;
}

/** The codings a request body may carry, for errors and docs. */
export const CONTENT_ENCODINGS = Object.keys(INFLATERS).filter((name) => name !== 'x-gzip');

function isHeaderError(err: unknown): boolean {
  return (err as { code?: string }).code === 'Z_DATA_ERROR' && /header/i.test((err as Error).message);
}

/**
 * The body with its Content-Encoding undone. One coding (or `identity`) is taken; stacked
 * codings and unknown ones answer 415, never a body read as if it were plain.
 */
export async function decodeContentEncoding(header: string | undefined, body: Buffer, maxDecodedBytes: number, limitKey = 'server.maxDecodedBytes'): Promise<Buffer> {
  if (header === undefined) return body;
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return body;
  const inflate = INFLATERS[coding];
  if (inflate === undefined) {
    const shown = coding.length > 40 ? `${coding.slice(0, 40)}…` : coding;
    throw new GatewayError('UNSUPPORTED_ENCODING', `Content-Encoding "${shown}" is not accepted; send one of: ${CONTENT_ENCODINGS.join(', ')}, or none`);
  }
  try {
    return await inflate(body, { maxOutputLength: maxDecodedBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new GatewayError('DECODED_TOO_LARGE', `the ${coding} body inflates to more than ${maxDecodedBytes} bytes (${limitKey}); inflating stopped there`);
    }
    throw new GatewayError('MALFORMED_BODY', `body: not valid ${coding} data (${(err as Error).message})`);
  }
}
