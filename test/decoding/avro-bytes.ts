import { Readable } from 'node:stream';
import { constants, deflateRawSync } from 'node:zlib';
import avro, { type Type } from 'avsc';

// Hand-built Avro bytes for the decoding tests: hostile datums and container files that no
// well-behaved encoder would write, plus avsc's own encoder and decoder as the reference.

/** Zigzag varint of any 64-bit value (and beyond, to build out-of-range longs). */
export function long(value: number | bigint): Buffer {
  const n = BigInt(value);
  let u = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const bytes: number[] = [];
  do {
    const low = Number(u & 0x7fn);
    u >>= 7n;
    bytes.push(u > 0n ? low | 0x80 : low);
  } while (u > 0n);
  return Buffer.from(bytes);
}

export function str(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([long(bytes.length), bytes]);
}

export function double(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return b;
}

export const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

/** avsc decodes records as instances of generated classes; compare their fields only. */
export const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/**
 * Raw deflate data that inflates to `mib` MiB of zeros, about 1 KiB per MiB: one fully
 * flushed chunk (independent of what precedes it) repeated, then an empty final block.
 */
export function zeroBomb(mib: number): Buffer {
  const chunk = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array<Buffer>(mib).fill(chunk), deflateRawSync(Buffer.alloc(0))]);
}

export const SYNC = Buffer.from('0123456789abcdef');

export interface BlockSpec {
  count: number | bigint;
  data: Buffer;
  /** Declared byte size; the data's length unless given. */
  size?: number | bigint;
  sync?: Buffer;
}

/** An Object Container File; `metadata` replaces the whole encoded metadata map when given. */
export function containerFile(opts: {
  schema?: unknown;
  codec?: string;
  extraMeta?: Record<string, Buffer | string>;
  metadata?: Buffer;
  blocks: BlockSpec[];
}): Buffer {
  const entries: [string, Buffer][] = [];
  if (opts.schema !== undefined) {
    const text = typeof opts.schema === 'string' ? opts.schema : JSON.stringify(opts.schema);
    entries.push(['avro.schema', Buffer.from(text)]);
  }
  if (opts.codec !== undefined) entries.push(['avro.codec', Buffer.from(opts.codec)]);
  for (const [k, v] of Object.entries(opts.extraMeta ?? {})) entries.push([k, Buffer.from(v)]);
  const metadata =
    opts.metadata ??
    cat(long(entries.length), ...entries.flatMap(([k, v]) => [str(k), str(v)]), long(0));
  const blocks = opts.blocks.map((b) => cat(long(b.count), long(b.size ?? b.data.length), b.data, b.sync ?? SYNC));
  return cat(Buffer.from('Obj\x01', 'latin1'), metadata, SYNC, ...blocks);
}

/** A file written by avsc's own encoder. */
export function avscFile(schema: unknown, values: unknown[], opts: { codec?: string; blockSize?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const encoder = new avro.streams.BlockEncoder(schema as avro.Schema, { codec: opts.codec ?? 'null', blockSize: opts.blockSize });
    const chunks: Buffer[] = [];
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    encoder.on('end', () => resolve(Buffer.concat(chunks)));
    encoder.on('error', reject);
    for (const v of values) encoder.write(v);
    encoder.end();
  });
}

/** The gateway's former reader: avsc's BlockDecoder, records resolved to the reader type. */
export function avscRead(body: Buffer, reader: Type): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const out: unknown[] = [];
    let resolver: avro.Resolver | undefined;
    const decoder = new avro.streams.BlockDecoder({ noDecode: true });
    decoder.on('metadata', (writer: Type) => (resolver = reader.createResolver(writer)));
    decoder.on('data', (datum: Buffer) => out.push(reader.fromBuffer(datum, resolver)));
    decoder.on('error', reject);
    decoder.on('end', () => resolve(out));
    Readable.from([body]).pipe(decoder);
  });
}
