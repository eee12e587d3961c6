import t from 'tap';
import { closesAtMs, minuteFilePath, minuteStamp, parseMinuteFile } from '../../src/destinations/file/minute-file-name';

// A minute file's name is all the shipper reads to know whether it is closed, at start as at
// run time: names must round-trip, and anything else must be left alone.

const MINUTE = 60_000;
const m = Date.UTC(2026, 10, 29, 18, 3) / MINUTE;

t.test('main and late files: the path, the stamp, and back', async (t) => {
  t.equal(minuteFilePath({ minute: m }), '2026-11-29/18-03.ndjson.gz');
  t.equal(minuteStamp(m), '20261129T1803Z');
  t.equal(minuteFilePath({ minute: m, lateMinute: m + 61 }), '2026-11-29/18-03.20261129T1904Z.ndjson.gz');
  t.same(parseMinuteFile('2026-11-29', '18-03.ndjson.gz'), { minute: m });
  t.same(parseMinuteFile('2026-11-29', '18-03.20261129T1904Z.ndjson.gz'), { minute: m, lateMinute: m + 61 });
  for (const minute of [0, m, m + 24 * 60 * 400 + 17]) {
    const [dir, name] = minuteFilePath({ minute, lateMinute: minute + 3 }).split('/');
    t.same(parseMinuteFile(dir, name), { minute, lateMinute: minute + 3 }, `round trip ${dir}/${name}`);
  }
});

t.test('names that are not minute files are not parsed (left alone, never shipped)', async (t) => {
  for (const [dir, name] of [
    ['2026-11-29', '18-03.ndjson'],
    ['2026-11-29', '24-00.ndjson.gz'],
    ['2026-11-29', '18-60.ndjson.gz'],
    ['2026-02-30', '18-03.ndjson.gz'],
    ['2026-11-29', '18-03.20261329T1904Z.ndjson.gz'],
    ['2026-11-29', '18-03.20261129T1960Z.ndjson.gz'],
    ['2026-11-29', '18-03.1.ndjson.gz'],
    ['29-11-2026', '18-03.ndjson.gz'],
    ['2026-11-29', 'x18-03.ndjson.gz'],
  ]) {
    t.equal(parseMinuteFile(dir, name), undefined, `${dir}/${name}`);
  }
});

t.test('a file closes at the end of the minute it is written in, plus the grace', async (t) => {
  t.equal(closesAtMs({ minute: m }, 120_000), (m + 1) * MINUTE + 120_000);
  t.equal(closesAtMs({ minute: m, lateMinute: m + 61 }, 120_000), (m + 62) * MINUTE + 120_000, 'a late file: its own minute');
});
