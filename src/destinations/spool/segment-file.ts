import { crc32 } from 'node:zlib';

// The spool's on-disk record framing: [u32 length][u32 CRC-32 of the payload][payload],
// big-endian. A record is only trusted when its length fits the file and its checksum
// matches, so a tail torn by a crash (kill -9, power loss) is found and cut off.

export const RECORD_HEADER_BYTES = 8;

export function frameRecord(payload: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  framed.writeUInt32BE(payload.length, 0);
  framed.writeUInt32BE(crc32(payload), 4);
  payload.copy(framed, RECORD_HEADER_BYTES);
  return framed;
}

export interface ScannedSegment {
  payloads: Buffer[];
  /** Bytes of whole, checksummed records from the start; the rest is a corrupt tail. */
  validBytes: number;
  /** True when bytes after `validBytes` could not be read as records. */
  corruptTail: boolean;
}

export function scanSegment(bytes: Buffer): ScannedSegment {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const checksum = bytes.readUInt32BE(offset + 4);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > bytes.length) break;
    const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== checksum) break;
    payloads.push(payload);
    offset = end;
  }
  return { payloads, validBytes: offset, corruptTail: offset !== bytes.length };
}
