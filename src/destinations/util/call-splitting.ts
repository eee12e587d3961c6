// AWS batch APIs (Firehose PutRecordBatch, Kinesis PutRecords) bound one call by its record
// count and its bytes; a batch larger than that goes as several calls.

/**
 * Splits records, in order, into calls within both the record-count and the byte limit of one
 * call, each record weighing `sizeOf(record)` bytes. A record over `maxBytes` gets a call of its
 * own (the caller has refused records over the per-record limit already).
 */
export function splitIntoCalls<T>(records: readonly T[], maxRecords: number, maxBytes: number, sizeOf: (record: T) => number): T[][] {
  const calls: T[][] = [];
  let call: T[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = sizeOf(record);
    if (call.length === maxRecords || (call.length > 0 && bytes + size > maxBytes)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(record);
    bytes += size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}
