import { promisify } from 'node:util';
import { gunzipSync, gzip, inflateRawSync } from 'node:zlib';

// Minute files are a run of gzip members (RFC 1952), one per group commit; `zcat` and every
// gzip reader take them as one stream. Each member carries its own length in an extra field
// (as BGZF, samtools' blocked gzip, does), so that a torn tail can be found at start by
// reading member headers only, not by inflating every file. Readers ignore the field.
// https://www.rfc-editor.org/rfc/rfc1952#section-2.3

const gzipAsync = promisify(gzip);

const ID1 = 0x1f;
const ID2 = 0x8b;
const CM_DEFLATE = 8;
const FLG_FHCRC = 0x02;
const FLG_FEXTRA = 0x04;
const FLG_FNAME = 0x08;
const FLG_FCOMMENT = 0x10;
/** OS byte: Unix. */
const OS_UNIX = 3;
/** The extra subfield's id, 'TG', and its 4-byte payload: the member's total length. */
const SUBFIELD_ID = [0x54, 0x47];
const SUBFIELD_DATA_BYTES = 4;
/** Fixed header (10) + XLEN (2) + subfield header (4) + its data (4). */
const HEADER_BYTES = 20;
/** CRC-32 and ISIZE. */
const TRAILER_BYTES = 8;
const FIXED_HEADER_BYTES = 10;

/**
 * One gzip member holding `data`, deflated at level 1 off the main thread. zlib's own gzip
 * computes the CRC-32 and length in its thread too; only its fixed 10-byte header is swapped
 * for one that carries the member's length.
 */
export async function gzipMember(data: Buffer): Promise<Buffer> {
  // One output chunk as large as the input can deflate to: with node's default of 16 KiB, each
  // chunk of a batch's member went back through the main thread's event loop before zlib went
  // on, and under load every such turn waits for the requests being parsed.
  const gz = await gzipAsync(data, { level: 1, chunkSize: deflateBound(data.length) });
  if (gz[3] !== 0) throw new Error(`zlib wrote a gzip header with flags ${gz[3]}; a member needs its plain 10-byte header`);
  const member = Buffer.allocUnsafe(HEADER_BYTES + gz.length - FIXED_HEADER_BYTES);
  member[0] = ID1;
  member[1] = ID2;
  member[2] = CM_DEFLATE;
  member[3] = FLG_FEXTRA;
  member.writeUInt32LE(0, 4); // MTIME: none
  member[8] = 0; // XFL
  member[9] = OS_UNIX;
  member.writeUInt16LE(4 + SUBFIELD_DATA_BYTES, 10); // XLEN
  member[12] = SUBFIELD_ID[0];
  member[13] = SUBFIELD_ID[1];
  member.writeUInt16LE(SUBFIELD_DATA_BYTES, 14);
  member.writeUInt32LE(member.length, 16);
  // The deflate stream and zlib's trailer (CRC-32, ISIZE) as they are.
  gz.copy(member, HEADER_BYTES, FIXED_HEADER_BYTES);
  return member;
}

/**
 * Room for the member zlib writes for `length` bytes: deflate's worst case on incompressible
 * input is stored blocks, 5 bytes for every 16 KiB block, plus gzip's header and trailer. Were
 * it ever short, zlib would take a second chunk: slower, still correct.
 */
function deflateBound(length: number): number {
  return length + 5 * Math.ceil(length / 16384) + 64;
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/**
 * The length of the leading run of whole gzip members in a file of `size` bytes; anything
 * after it is a torn tail. Members written here are skipped by their length; only the last one
 * is inflated, to check its CRC (earlier members were fsynced before a later write began, so
 * only the last can be torn). Members written by another tool are inflated to find their end.
 */
export async function wholeMembersLength(readAt: ReadAt, size: number): Promise<number> {
  let offset = 0;
  while (offset < size) {
    const head = await readAt(offset, Math.min(HEADER_BYTES, size - offset));
    if (head.length < FIXED_HEADER_BYTES || head[0] !== ID1 || head[1] !== ID2 || head[2] !== CM_DEFLATE) break;
    const length = ownMemberLength(head);
    if (length === undefined) {
      const foreign = await foreignMemberLength(await readAt(offset, size - offset));
      if (foreign === undefined) break;
      offset += foreign;
      continue;
    }
    if (length < HEADER_BYTES + TRAILER_BYTES || offset + length > size) break;
    if (offset + length === size && !inflates(await readAt(offset, length))) break;
    offset += length;
  }
  return offset;
}

/** The length a member written by gzipMember states in its extra field, else undefined. */
function ownMemberLength(head: Buffer): number | undefined {
  if (head.length < HEADER_BYTES || head[3] !== FLG_FEXTRA) return undefined;
  if (head.readUInt16LE(10) !== 4 + SUBFIELD_DATA_BYTES || head[12] !== SUBFIELD_ID[0] || head[13] !== SUBFIELD_ID[1]) return undefined;
  if (head.readUInt16LE(14) !== SUBFIELD_DATA_BYTES) return undefined;
  return head.readUInt32LE(16);
}

function inflates(member: Buffer): boolean {
  try {
    gunzipSync(member);
    return true;
  } catch {
    return false;
  }
}

/** Length of the whole member at the start of `bytes` (any valid gzip header), or undefined when it is torn. */
function foreignMemberLength(bytes: Buffer): number | undefined {
  const flags = bytes[3];
  let offset = FIXED_HEADER_BYTES;
  if (flags & FLG_FEXTRA) {
    if (offset + 2 > bytes.length) return undefined;
    offset += 2 + bytes.readUInt16LE(offset);
  }
  for (const flag of [FLG_FNAME, FLG_FCOMMENT]) {
    if (!(flags & flag)) continue;
    const end = bytes.indexOf(0, offset);
    if (end === -1) return undefined;
    offset = end + 1;
  }
  if (flags & FLG_FHCRC) offset += 2;
  if (offset >= bytes.length) return undefined;
  try {
    // `bytesWritten` is the deflate input consumed up to the end of its stream.
    const { engine } = inflateRawSync(bytes.subarray(offset), { info: true }) as unknown as { engine: { bytesWritten: number } };
    const end = offset + engine.bytesWritten + TRAILER_BYTES;
    if (end > bytes.length) return undefined;
    return inflates(bytes.subarray(0, end)) ? end : undefined;
  } catch {
    return undefined;
  }
}
