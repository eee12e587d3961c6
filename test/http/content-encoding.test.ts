import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { CONTENT_ENCODINGS, decodeContentEncoding } from '../../src/http/content-encoding';
import { GatewayError } from '../../src/errors';

const text = Buffer.from(JSON.stringify({ hello: 'world'.repeat(100) }));

async function refusal(header: string, body: Buffer, max = 1 << 20): Promise<GatewayError> {
  try {
    await decodeContentEncoding(header, body, max);
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error(`${header} was accepted`);
}

t.test('gzip, deflate (zlib and raw), br and identity inflate to the body', async (t) => {
  t.same(await decodeContentEncoding('gzip', gzipSync(text), 1 << 20), text);
  t.same(await decodeContentEncoding('GZIP ', gzipSync(text), 1 << 20), text, 'case and spaces');
  t.same(await decodeContentEncoding('deflate', deflateSync(text), 1 << 20), text);
  t.same(await decodeContentEncoding('deflate', deflateRawSync(text), 1 << 20), text, 'raw deflate, as some clients send');
  t.same(await decodeContentEncoding('br', brotliCompressSync(text), 1 << 20), text);
  t.same(await decodeContentEncoding('identity', text, 1 << 20), text);
  t.same(await decodeContentEncoding(undefined, text, 1 << 20), text);
  t.ok(CONTENT_ENCODINGS.includes('gzip') && CONTENT_ENCODINGS.includes('br'));
});

t.test('unknown and stacked codings are 415, naming the coding', async (t) => {
  for (const header of ['compress', 'gzip, gzip', 'x-custom', 'zstd-ish']) {
    const err = await refusal(header, text);
    t.equal(err.code, 'UNSUPPORTED_ENCODING', header);
    t.equal(err.status, 415);
  }
});

t.test('a bomb stops at maxDecodedBytes: 413, fast, without inflating the rest', async (t) => {
  const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024)); // ~250 KB of gzip
  for (const [header, body] of [
    ['gzip', bomb],
    ['br', brotliCompressSync(Buffer.alloc(64 * 1024 * 1024))],
    ['deflate', deflateSync(Buffer.alloc(64 * 1024 * 1024))],
  ] as const) {
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const err = await refusal(header, body, 1 << 20);
    t.equal(err.code, 'DECODED_TOO_LARGE', header);
    t.match(err.message, /more than 1048576 bytes \(server\.maxDecodedBytes\)/);
    t.ok(Date.now() - started < 2_000, `${header}: refused in ${Date.now() - started} ms`);
    t.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, `${header}: memory stayed near the bound`);
  }
});

t.test('corrupt data is 400 MALFORMED_BODY', async (t) => {
  const err = await refusal('gzip', Buffer.from('not gzip at all'));
  t.equal(err.code, 'MALFORMED_BODY');
  t.match(err.message, /not valid gzip data/);
});
