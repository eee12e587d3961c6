import t from 'tap';
import { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL } from '../../src/destinations/firehose/limits';
import { packRecords, splitIntoCalls } from '../../src/destinations/firehose/record-packing';

const line = (index: number, bytes: number) => ({ index, line: Buffer.alloc(bytes, 'x') });

t.test('lines are packed in order into records of at most maxBytes', async (t) => {
  const records = packRecords([line(0, 40), line(1, 40), line(2, 40), line(3, 100)], 100);
  t.same(records.map((r) => r.events), [[0, 1], [2], [3]]);
  t.same(records.map((r) => r.data.length), [80, 40, 100]);
  t.same(packRecords([line(0, 10), line(1, 10)], 0).map((r) => r.events), [[0], [1]], 'maxBytes 0: one event per record');
});

t.test('calls stay within 500 records and 4 MiB', async (t) => {
  const many = packRecords(Array.from({ length: 1200 }, (_, i) => line(i, 10)), 0);
  t.same(splitIntoCalls(many, MAX_RECORDS_PER_CALL, MAX_BYTES_PER_CALL).map((c) => c.length), [500, 500, 200]);
  const big = packRecords(Array.from({ length: 10 }, (_, i) => line(i, 1_000_000)), 1_000_000);
  const calls = splitIntoCalls(big, MAX_RECORDS_PER_CALL, MAX_BYTES_PER_CALL);
  t.ok(calls.every((c) => c.reduce((s, r) => s + r.data.length, 0) <= MAX_BYTES_PER_CALL));
  t.same(calls.map((c) => c.length), [4, 4, 2]);
});
