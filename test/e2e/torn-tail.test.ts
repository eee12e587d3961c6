import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { gzipMember } from '../../src/destinations/file/gzip-member';
import { frameRecord } from '../../src/destinations/spool/segment-file';
import { gzipTestFailures } from '../helpers/disk';
import { listFiles, metricValue, readGzipLines, removeDir, tempDir, validOrder, SERVICE_AUTH } from '../helpers/gateway';
import { startServe, type ServeProcess } from '../helpers/process';

// A crash (or a write that failed and could not be cut back) leaves a torn tail: half a gzip
// member after the last whole one, half a spool record. At start the gateway cuts each, counts
// it and logs the file and the bytes; afterwards every .gz passes gzip -t and every
// acknowledged event is readable, also after more is appended to the repaired files.

async function postOrders(gateway: ServeProcess, ids: string[]): Promise<number> {
  const res = await fetch(`${gateway.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(ids.map((id) => validOrder({ $id: id, orderId: id }))) });
  return res.status;
}

function logLines(output: string): { msg: string; file?: string; bytesCut?: number; store?: string }[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

t.test('torn tails of minute files and spool segments are cut at start, counted and logged; gzip -t passes on every .gz', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const dataDir = join(dir, 'data');
  const env = { GATEWAY_DATA_DIR: dataDir };

  const first = await startServe(env);
  t.teardown(() => first.child.kill('SIGKILL'));
  const before = Array.from({ length: 20 }, (_, i) => `before-${i}`);
  t.equal(await postOrders(first, before), 200);
  // An invalid beacon: a dead letter, written in its own minute file.
  t.equal((await fetch(`${first.base}/v1/beacon/widget/impression?widgetId=w&pageUrl=https%3A%2F%2Fp.example%2F&placement=NOWHERE&position=1`)).status, 200);
  for (let i = 0; i < 50 && listFiles(join(dataDir, '_dead-letter')).length === 0; i++) await sleep(20);
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));

  const [orderFile] = listFiles(join(dataDir, 'shop'));
  const [deadLetterFile] = listFiles(join(dataDir, '_dead-letter'));
  t.ok(orderFile && deadLetterFile, 'a minute file and a dead-letter file on disk');
  // Half a member after the last whole one, as a crash mid-append leaves it.
  const member = await gzipMember(Buffer.from(`${JSON.stringify({ id: 'never-acknowledged' })}\n`));
  const half = member.subarray(0, Math.floor(member.length / 2));
  appendFileSync(orderFile, half);
  // Zeros where the last write should have been (power loss on some filesystems).
  appendFileSync(deadLetterFile, Buffer.alloc(100));
  // A file whose only member is torn: nothing in it was acknowledged, so it goes.
  const onlyTorn = join(dataDir, 'shop', 'order-placed', '2020-01-01', '00-00.ndjson.gz');
  mkdirSync(join(dataDir, 'shop', 'order-placed', '2020-01-01'), { recursive: true });
  writeFileSync(onlyTorn, half);
  // A spool segment with two whole records and half of a third.
  const spoolDir = join(dataDir, '_spool');
  mkdirSync(spoolDir, { recursive: true });
  const entry = (id: string) => frameRecord(Buffer.from(JSON.stringify({ id, service: 'shop', topic: 'order-placed', version: 1, source: 'test', receivedAt: Date.now(), size: 400, data: validOrder({ orderId: id }) })));
  const tornRecord = entry('spooled-torn').subarray(0, 30);
  const segment = join(spoolDir, 'segment-000000000042.log');
  writeFileSync(segment, Buffer.concat([entry('spooled-1'), entry('spooled-2'), tornRecord]));
  // (gzip -t lets trailing zeros pass; zcat then reads them as nothing. They are cut all the same.)
  t.same(gzipTestFailures([orderFile, onlyTorn]).length, 2, 'gzip -t refuses the files with half a member');

  const second = await startServe(env);
  t.teardown(() => second.child.kill('SIGKILL'));
  const cuts = logLines(second.output()).filter((l) => /cut a torn tail/.test(l.msg));
  const cutOf = (file: string) => cuts.find((l) => l.file === file)?.bytesCut;
  t.equal(cutOf(orderFile), half.length, `${orderFile}: the half member is cut and logged with its bytes`);
  t.equal(cutOf(deadLetterFile), 100, 'the dead letter file: the zeros are cut');
  t.equal(cutOf(onlyTorn), half.length, 'the file holding only a torn member is cut…');
  t.notOk(existsSync(onlyTorn), '…and removed, since gzip -t refuses an empty file');
  t.equal(cutOf(segment), tornRecord.length, 'the spool segment: the half record is cut');
  const metrics = await (await fetch(`${second.admin}/metrics`)).text();
  t.equal(metricValue(metrics, 'tracking_gateway_torn_tails_cut_total', { store: 'minute_file' }), 3);
  t.equal(metricValue(metrics, 'tracking_gateway_torn_tails_cut_total', { store: 'spool_segment' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_torn_tail_bytes_cut_total', { store: 'minute_file' }), 2 * half.length + 100);
  t.equal(metricValue(metrics, 'tracking_gateway_torn_tail_bytes_cut_total', { store: 'spool_segment' }), tornRecord.length);

  // Appends go on after the repaired tails; the spooled records are replayed into the files.
  const after = Array.from({ length: 5 }, (_, i) => `after-${i}`);
  t.equal(await postOrders(second, after), 200);
  const expected = [...before, 'spooled-1', 'spooled-2', ...after].sort();
  let ids: string[] = [];
  for (let i = 0; i < 100 && ids.length < expected.length; i++) {
    await sleep(100);
    try {
      ids = readGzipLines(join(dataDir, 'shop')).map((l) => l.id);
    } catch {
      // read while a member was being appended: read again
    }
  }
  t.equal(await second.stop(), 0);
  t.same(gzipTestFailures(listFiles(dataDir)), [], 'gzip -t passes on every .gz');
  t.same(readGzipLines(join(dataDir, 'shop')).map((l) => l.id).sort(), expected, 'every acknowledged event readable, the torn one nowhere');
});

t.test('torn tails left by a run with other workers are cut before this run starts its own', async (t) => {
  // A single-process run writes straight under the data directory and a run of three workers
  // under worker-1..3; a run of two workers repairs only worker-1 and worker-2. The primary cuts
  // the rest: without it, these files failed gzip -t for ever.
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const dataDir = join(dir, 'data');
  const whole = await gzipMember(Buffer.from(`${JSON.stringify({ id: 'acknowledged' })}\n`));
  const torn = (await gzipMember(Buffer.from(`${JSON.stringify({ id: 'never-acknowledged' })}\n`))).subarray(0, 30);
  const files = [
    join(dataDir, 'shop', 'order-placed', '2020-01-01', '00-00.ndjson.gz'),
    join(dataDir, '_dead-letter', 'widget', 'impression', '2020-01-01', '00-00.ndjson.gz'),
    join(dataDir, 'worker-3', 'shop', 'order-placed', '2020-01-01', '00-01.ndjson.gz'),
    join(dataDir, 'worker-3', '_dead-letter', 'shop', 'order-placed', '2020-01-01', '00-01.ndjson.gz'),
  ];
  for (const file of files) {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, Buffer.concat([whole, torn]));
  }
  t.equal(gzipTestFailures(files).length, files.length, 'gzip -t refuses each before');
  const gateway = await startServe({ GATEWAY_DATA_DIR: dataDir, GATEWAY_WORKERS: '2' });
  t.teardown(() => gateway.child.kill('SIGKILL'));
  const cuts = logLines(gateway.output()).filter((l) => /cut a torn tail/.test(l.msg));
  for (const file of files) t.equal(cuts.find((l) => l.file === file)?.bytesCut, torn.length, `${file.slice(dataDir.length)}: cut and logged`);
  t.equal(await gateway.stop(), 0);
  t.same(gzipTestFailures(files), [], 'gzip -t passes on each after');
  t.same(readGzipLines(join(dataDir, 'shop')).map((l) => l.id), ['acknowledged'], 'the acknowledged line is kept');
});
