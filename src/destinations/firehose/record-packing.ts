/** One Firehose record: newline-terminated lines of one or more events. */
export interface PackedRecord {
  data: Buffer;
  /** Indexes, in the batch given to send, of the events it carries. */
  events: number[];
}

/**
 * Packs lines into records of at most `maxBytes` each, in order. A line longer than
 * `maxBytes` gets a record of its own (the caller has checked it fits Firehose's limit).
 * With `maxBytes` 0 every line is its own record.
 */
export function packRecords(lines: readonly { index: number; line: Buffer }[], maxBytes: number): PackedRecord[] {
  const records: PackedRecord[] = [];
  let parts: Buffer[] = [];
  let events: number[] = [];
  let bytes = 0;
  const close = () => {
    if (parts.length === 0) return;
    records.push({ data: parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes), events });
    parts = [];
    events = [];
    bytes = 0;
  };
  for (const { index, line } of lines) {
    if (bytes > 0 && bytes + line.length > maxBytes) close();
    parts.push(line);
    events.push(index);
    bytes += line.length;
  }
  close();
  return records;
}
