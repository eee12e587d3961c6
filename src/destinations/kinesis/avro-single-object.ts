import type { Type } from 'avsc';

// Avro single-object encoding: a datum prefixed with a two-byte marker and the 8-byte
// little-endian CRC-64-AVRO (Rabin) fingerprint of its writer schema's Parsing Canonical Form,
// so that a consumer can find the schema version of each record on its own.
// https://avro.apache.org/docs/1.11.1/specification/#single-object-encoding
// https://avro.apache.org/docs/1.11.1/specification/#schema-fingerprints

/** "A two-byte marker, C3 01, to show that the message is Avro and uses this single-record format (version 1)." */
export const SINGLE_OBJECT_MARKER = Buffer.from([0xc3, 0x01]);
export const SINGLE_OBJECT_HEADER_BYTES = SINGLE_OBJECT_MARKER.length + 8;

/** The spec's EMPTY: the fingerprint of no bytes, and the polynomial the table is built from. */
const EMPTY = 0xc15d213aa4d7a795n;
const MASK_64 = (1n << 64n) - 1n;

const FP_TABLE = (() => {
  const table = new BigUint64Array(256);
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & (-(fp & 1n) & MASK_64));
    table[i] = fp;
  }
  return table;
})();

/** CRC-64-AVRO of the bytes, as the spec's reference `fingerprint64` computes it (an unsigned 64-bit value). */
export function rabinFingerprint(bytes: Uint8Array): bigint {
  let fp = EMPTY;
  for (const byte of bytes) fp = (fp >> 8n) ^ FP_TABLE[Number((fp ^ BigInt(byte)) & 0xffn)];
  return fp;
}

/**
 * The schema's Parsing Canonical Form: avsc's `schema()` is it (fully qualified names; only
 * type, name, fields, symbols, items, values and size kept, in that order; no whitespace).
 */
export function canonicalForm(type: Type): string {
  return JSON.stringify(type.schema());
}

// Computed once per schema version: the header is the same for every record of a version.
const headers = new WeakMap<Type, Buffer>();

/** Marker and fingerprint of the writer schema, to go before each datum. */
export function singleObjectHeader(type: Type): Buffer {
  let header = headers.get(type);
  if (header === undefined) {
    header = Buffer.alloc(SINGLE_OBJECT_HEADER_BYTES);
    SINGLE_OBJECT_MARKER.copy(header, 0);
    header.writeBigUInt64LE(rabinFingerprint(Buffer.from(canonicalForm(type), 'utf8')), SINGLE_OBJECT_MARKER.length);
    headers.set(type, header);
  }
  return header;
}
