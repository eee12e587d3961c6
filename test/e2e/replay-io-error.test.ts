import { mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { metricValue, readGzipLines, removeDir, tempDir, validOrder, SERVICE_AUTH } from '../helpers/gateway';
import { startServe, type ServeProcess } from '../helpers/process';

// An I/O error in the middle of replay: the segment replay is about to read is replaced by a
// folder of the same name, so reading it fails with EISDIR (root ignores permission bits, so
// chmod 000 would not stop it). The process must survive, log the file and count the error,
// replay the segments after it, and pick the segment up again once it can be read.

async function postOrders(gateway: ServeProcess, ids: string[]): Promise<number> {
  const res = await fetch(`${gateway.base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(ids.map((id) => validOrder({ $id: id, orderId: id }))) });
  return res.status;
}

async function until(what: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) if (await what()) return true;
  return false;
}

t.test('a segment that cannot be read is logged and counted, the process lives on, later segments are replayed, and the segment is replayed once readable', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  // The destination's folder sits under a plain file, so every write fails until it is removed.
  const blocker = join(dir, 'blocker');
  writeFileSync(blocker, 'not a folder');
  const spoolDir = join(dir, 'spool');
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, `dataDir: ${join(dir, 'data')}\nspool:\n  dir: ${spoolDir}\ndestinations:\n  events:\n    type: file\n    dir: ${join(blocker, 'events')}\n`);
  const gateway = await startServe({}, ['--config', config]);
  t.teardown(() => gateway.child.kill('SIGKILL'));

  const first = Array.from({ length: 20 }, (_, i) => `first-${i}`);
  t.equal(await postOrders(gateway, first), 200, 'durable in the spool');
  // Before replay seals and reads it: the segment's bytes are set aside and a folder takes its name.
  const [segmentName] = readdirSync(spoolDir).filter((n) => n.endsWith('.log'));
  const segment = join(spoolDir, segmentName);
  const saved = readFileSync(segment);
  unlinkSync(segment);
  mkdirSync(segment);

  const logged = () => gateway.output().split('\n').filter((l) => l.includes(`"file":"${segment}"`) && l.includes('spool replay cannot read'));
  t.ok(await until(() => logged().length > 0, 10_000), 'the failure is logged with the file');
  t.match(logged()[0], /EISDIR/);
  const errors = async () => metricValue(await (await fetch(`${gateway.admin}/metrics`)).text(), 'tracking_gateway_background_errors_total', { task: 'spool_replay' });
  t.ok((await errors()) >= 1, 'and counted');

  // The segments after it go on: new events are spooled, the destination recovers, they arrive.
  const second = Array.from({ length: 10 }, (_, i) => `second-${i}`);
  t.equal(await postOrders(gateway, second), 200);
  rmSync(blocker);
  const delivered = () => {
    try {
      return new Set(readGzipLines(join(blocker, 'events')).map((l) => l.id as string));
    } catch {
      return new Set<string>(); // read while a member was being appended
    }
  };
  t.ok(await until(() => second.every((id) => delivered().has(id)), 20_000), 'the later segment was replayed past the unreadable one');
  t.equal(gateway.child.exitCode, null, 'the process is alive');
  t.equal(logged().length, 1, 'the same failure is logged once, not at every retry');
  t.notMatch(gateway.output(), /spool_replay failed/, 'replay itself never failed: it went past the unreadable segment');

  // The fault goes away: the segment is read on a later retry and its events delivered.
  rmSync(segment, { recursive: true });
  writeFileSync(segment, saved);
  t.ok(await until(() => first.every((id) => delivered().has(id)), 30_000), 'the segment was replayed once it could be read');
  t.match(gateway.output(), new RegExp(`spool segment ${segment} is readable again`));
  t.equal(await gateway.stop(), 0, 'exits cleanly');
  const ids = readGzipLines(join(blocker, 'events')).map((l) => l.id as string);
  t.same(ids.sort(), [...first, ...second].sort(), 'every acknowledged event delivered once');
});
