import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { DeadLetterStore, LEDGER_FILE } from '../../src/destinations/dead-letter/dead-letter-store';
import { removeDir, tempDir } from '../helpers/gateway';

// The dead letter read back: newest first, filters, a torn tail, and the ledger of re-driven
// entries, crash-safe at each step of compaction.

const line = (over: Record<string, unknown>) =>
  JSON.stringify({ reason: 'invalid', message: 'm', service: 'widget', topic: 'impression', version: 2, receivedtime: '2026-12-03T08:00:00.000Z', source: '/v1/beacon/widget/impression', payloadBytes: 2, payload: {}, ...over });

function minuteFile(root: string, minute: string, lines: string[], tornTail = false): string {
  const dir = join(root, 'widget', 'impression', '2026-12-03');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${minute}.ndjson.gz`);
  let bytes = gzipSync(lines.map((l) => `${l}\n`).join(''));
  if (tornTail) bytes = Buffer.concat([bytes, gzipSync('{"reason":"invalid","message":"torn"}\n').subarray(0, 15)]);
  writeFileSync(path, bytes);
  return path;
}

t.test('newest first, filtered, and a torn tail ends a file without losing what came before', async (t) => {
  const root = tempDir();
  t.teardown(() => removeDir(root));
  minuteFile(root, '08-00', [line({ payload: { n: 1 } }), line({ payload: { n: 2 }, reason: 'event_too_large', receivedtime: '2026-12-03T08:00:30.000Z' })]);
  minuteFile(root, '08-01', [line({ payload: { n: 3 }, receivedtime: '2026-12-03T08:01:00.000Z' })], true);
  const store = new DeadLetterStore(root);
  const all = await store.list();
  t.same(all.entries.map((e) => (e.payload as { n: number }).n), [3, 2, 1], 'newest first across files and within one');
  t.same(all.byReason, { invalid: 2, event_too_large: 1 });
  t.same((await store.list({ reason: 'event_too_large' })).entries.length, 1, 'by reason');
  t.same((await store.list({ since: Date.parse('2026-12-03T08:00:10Z') })).entries.length, 2, 'by time');
  t.same((await store.list({ topic: 'shop' })).entries.length, 0, 'by topic');
  const limited = await store.list({ limit: 2 });
  t.equal(limited.entries.length, 2);
  t.ok(limited.more, 'says more match');
});

t.test('the ledger hides re-driven entries; a torn ledger line is ignored; compaction is safe at each step', async (t) => {
  const root = tempDir();
  t.teardown(() => removeDir(root));
  const done = minuteFile(root, '08-00', [line({ payload: { n: 1 } }), line({ payload: { n: 2 } })]);
  minuteFile(root, '08-01', [line({ payload: { n: 3 } }), line({ payload: { n: 4 } })]);
  const store = new DeadLetterStore(root);
  const { entries } = await store.list();
  const byN = (n: number) => entries.find((e) => (e.payload as { n: number }).n === n)!;
  await store.markReplayed([byN(1), byN(2), byN(3)]);
  // A crash cut the next ledger append short.
  appendFileSync(join(root, LEDGER_FILE), '{"id":"widget/impression/2026-12-03/08-01.ndjson.gz#1","sh');
  t.same((await store.list()).entries.map((e) => (e.payload as { n: number }).n), [4], 'only what was not re-driven is listed');

  const freed = await store.compact();
  t.notOk(existsSync(done), 'a file whose every entry was re-driven is deleted');
  t.ok(freed > 0, 'and its bytes freed');
  const ledger = readFileSync(join(root, LEDGER_FILE), 'utf8').trim().split('\n');
  t.equal(ledger.length, 1, 'the ledger keeps only the names of files that remain');
  t.same((await store.list()).entries.map((e) => (e.payload as { n: number }).n), [4], 'the listing is unchanged');

  // A file removed and written again under the same name: the old names do not hide the new lines.
  minuteFile(root, '08-01', [line({ payload: { n: 5 } }), line({ payload: { n: 6 } })]);
  t.same((await store.list()).entries.map((e) => (e.payload as { n: number }).n), [6, 5], 'a line digest guards each name');
});

t.test("a cluster's folder: each worker's ledger, named under its folder", async (t) => {
  const root = tempDir();
  t.teardown(() => removeDir(root));
  minuteFile(join(root, 'worker-1'), '08-00', [line({ payload: { n: 1 } })]);
  minuteFile(join(root, 'worker-2'), '08-00', [line({ payload: { n: 2 } })]);
  const cluster = new DeadLetterStore(root);
  const { entries } = await cluster.list();
  t.same(entries.map((e) => e.id.split('/')[0]).sort(), ['worker-1', 'worker-2']);
  // Worker 2 re-drives its own, in its own terms.
  const worker2 = new DeadLetterStore(join(root, 'worker-2'));
  await worker2.markReplayed((await worker2.list()).entries);
  t.same((await cluster.list()).entries.map((e) => e.id.split('/')[0]), ['worker-1'], "the primary's listing sees worker 2's ledger");
  t.equal(await cluster.compact(), 0, 'the primary compacts nothing of the workers’ (each does its own at start)');
});

t.test('a minute file that cannot be read is left out, not a crash', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async (t) => {
  const root = tempDir();
  t.teardown(() => removeDir(root));
  const path = minuteFile(root, '08-00', [line({ payload: { n: 1 } })]);
  minuteFile(root, '08-01', [line({ payload: { n: 2 } })]);
  chmodSync(path, 0);
  t.same((await new DeadLetterStore(root).list()).entries.map((e) => (e.payload as { n: number }).n), [2]);
});
