import t from 'tap';
import { packRecords } from '../../src/destinations/firehose/record-packing';

const line = (index: number, bytes: number) => ({ index, line: Buffer.alloc(bytes, 'x') });

t.test('lines are packed in order into records of at most maxBytes', async (t) => {
  const records = packRecords([line(0, 40), line(1, 40), line(2, 40), line(3, 100)], 100);
  t.same(records.map((r) => r.events), [[0, 1], [2], [3]]);
  t.same(records.map((r) => r.data.length), [80, 40, 100]);
  t.same(packRecords([line(0, 10), line(1, 10)], 0).map((r) => r.events), [[0], [1]], 'maxBytes 0: one event per record');
});
