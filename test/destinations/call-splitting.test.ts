import t from 'tap';
import { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL } from '../../src/destinations/firehose/limits';
import { packRecords } from '../../src/destinations/firehose/record-packing';
import { splitIntoCalls } from '../../src/destinations/util/call-splitting';

const line = (index: number, bytes: number) => ({ index, line: Buffer.alloc(bytes, 'x') });

t.test('calls stay within 500 records and 4 MiB', async (t) => {
  const many = packRecords(Array.from({ length: 1200 }, (_, i) => line(i, 10)), 0);
  t.same(splitIntoCalls(many, MAX_RECORDS_PER_CALL, MAX_BYTES_PER_CALL, (r) => r.data.length).map((c) => c.length), [500, 500, 200]);
  const big = packRecords(Array.from({ length: 10 }, (_, i) => line(i, 1_000_000)), 1_000_000);
  const calls = splitIntoCalls(big, MAX_RECORDS_PER_CALL, MAX_BYTES_PER_CALL, (r) => r.data.length);
  t.ok(calls.every((c) => c.reduce((s, r) => s + r.data.length, 0) <= MAX_BYTES_PER_CALL));
  t.same(calls.map((c) => c.length), [4, 4, 2]);
});

t.test('the size of a record is what sizeOf says (Kinesis counts the partition key too)', async (t) => {
  const records = Array.from({ length: 6 }, () => ({ data: 60, key: 40 }));
  t.same(splitIntoCalls(records, 500, 250, (r) => r.data + r.key).map((c) => c.length), [2, 2, 2]);
  t.same(splitIntoCalls(records, 500, 250, (r) => r.data).map((c) => c.length), [4, 2]);
  t.same(splitIntoCalls([{ data: 400, key: 0 }, { data: 1, key: 0 }], 500, 250, (r) => r.data).map((c) => c.length), [1, 1], 'a record over maxBytes goes alone');
});
