import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { LogLimiter } from '../../src/log/log-limiter';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { AppendError, Appender, type DiskStore } from '../../src/destinations/util/appender';
import { mountTmpfs, resizeTmpfs } from '../helpers/disk';
import { metricValue, removeDir, tempDir } from '../helpers/gateway';

// The one appender of minute files, dead letters and spool segments, on real disks: a small
// tmpfs that fills up makes writes fail part-way, as a full disk does.

const MiB = 1024 * 1024;

function store(): DiskStore & { logged: { msg: string; file?: string; code?: string }[] } {
  const logged: { msg: string; file?: string; code?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  return { name: 'spool', log, metrics: new GatewayMetrics(), limiter: new LogLimiter(0), logged };
}

const identity = { encode: (parts: Buffer[]) => Buffer.concat(parts) };
const chunk = (byte: number, bytes: number) => Buffer.alloc(bytes, byte);

t.test('appends that arrive during a write share the next one; each resolves once fsynced', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  let writes = 0;
  const appender = new Appender(join(dir, 'a', 'b', 'file.log'), store(), { encode: (parts) => (writes++, Buffer.concat(parts)) });
  await Promise.all(Array.from({ length: 50 }, (_, i) => appender.append(Buffer.from(`${i},`))));
  await appender.close();
  t.equal(readFileSync(join(dir, 'a', 'b', 'file.log'), 'utf8'), Array.from({ length: 50 }, (_, i) => `${i},`).join(''));
  t.ok(writes < 50, `50 appends in ${writes} writes`);
  t.equal(appender.bytes, statSync(join(dir, 'a', 'b', 'file.log')).size);
});

t.test('the next group is encoded while the one before it is still encoding or written; groups land in order, a failed encode fails only its own', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const path = join(dir, 'file.log');
  // Each encode waits until released, so the test decides which finishes first.
  const pending: { parts: Buffer[]; release: (fail?: boolean) => void }[] = [];
  const appender = new Appender(path, store(), {
    encode: (parts) =>
      new Promise<Buffer>((resolve, reject) => pending.push({ parts, release: (fail) => (fail ? reject(new Error('encoder failed')) : resolve(Buffer.concat(parts))) })),
  });
  const settle = (p: Promise<void>) => p.then(() => 'written', (err: Error) => err.message);
  const first = settle(appender.append(Buffer.from('a,')));
  const second = settle(appender.append(Buffer.from('b,')));
  const third = settle(appender.append(Buffer.from('c,')));
  const fourth = settle(appender.append(Buffer.from('d,')));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(pending.length, 2, 'two groups are encoded at once; what came later waits to form the next');
  t.same(pending.map((p) => Buffer.concat(p.parts).toString()), ['a,', 'b,']);
  pending[1].release(true);
  pending[0].release();
  t.equal(await first, 'written');
  t.match(await second, /encoder failed/, 'the failed encode fails its own group only');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(pending.slice(2).map((p) => Buffer.concat(p.parts).toString()), ['c,d,'], 'the appends that waited form one group');
  pending[2].release();
  t.same([await third, await fourth], ['written', 'written']);
  await appender.close();
  t.equal(readFileSync(path, 'utf8'), 'a,c,d,', 'groups are in the file in the order they were formed');
  t.ok(appender.idle);
});

t.test('a write cut short by a full disk is cut back to the fsynced length; appends go on after it when space returns', async (t) => {
  const disk = mountTmpfs(t, 1 * MiB);
  if (!disk) return;
  const path = join(disk, 'segment.log');
  const s = store();
  const appender = new Appender(path, s, identity);
  const acknowledged: Buffer[] = [];
  let failure: AppendError | undefined;
  for (let i = 0; i < 10 && !failure; i++) {
    const data = chunk(0x41 + i, 300 * 1024);
    await appender.append(data).then(
      () => void acknowledged.push(data),
      (err: AppendError) => void (failure = err),
    );
  }
  t.ok(failure, 'the disk filled up');
  t.equal(failure!.code, 'ENOSPC');
  t.match(failure!.message, new RegExp(`append to ${path} failed: ENOSPC.*cut back to ${acknowledged.length * 300 * 1024} bytes`));
  t.same(readFileSync(path), Buffer.concat(acknowledged), 'the file holds exactly what was acknowledged: the partial write is gone');
  t.equal(appender.broken, false);
  t.equal(metricValue(await s.metrics.render(), 'tracking_gateway_disk_append_failures_total', { store: 'spool' }), 1);
  t.ok(s.logged.some((l) => l.file === path && l.code === 'ENOSPC'), 'logged with the file and the code');

  resizeTmpfs(disk, 4 * MiB);
  const after = chunk(0x5a, 300 * 1024);
  await appender.append(after);
  acknowledged.push(after);
  await appender.close();
  t.same(readFileSync(path), Buffer.concat(acknowledged), 'the next append follows the last acknowledged one, with nothing torn between');
});

t.test('a file it created and could not write a byte into is removed again, then created anew', async (t) => {
  const disk = mountTmpfs(t, 256 * 1024);
  if (!disk) return;
  const ballast = join(disk, 'ballast');
  writeFileSync(ballast, chunk(0, 256 * 1024 - 4096));
  const path = join(disk, 'new', 'file.gz');
  const appender = new Appender(path, store(), identity);
  await t.rejects(appender.append(chunk(1, 64 * 1024)), { code: 'ENOSPC' });
  t.notOk(existsSync(path), 'no empty file is left behind');
  rmSync(ballast);
  await appender.append(chunk(1, 64 * 1024));
  await appender.close();
  t.equal(statSync(path).size, 64 * 1024);
});

t.test('a failed open is not kept: the next append opens the file again', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const blocker = join(dir, 'blocker');
  writeFileSync(blocker, 'a file where the folder should be');
  const appender = new Appender(join(blocker, 'file.log'), store(), identity);
  await t.rejects(appender.append(Buffer.from('one')), { name: 'AppendError', code: 'EEXIST' }, 'mkdir finds a file where the folder should be');
  rmSync(blocker);
  mkdirSync(blocker);
  await appender.append(Buffer.from('two'));
  await appender.close();
  t.equal(readFileSync(join(blocker, 'file.log'), 'utf8'), 'two');
});

t.test('an existing file is checked when opened: what follows its valid length is cut before the first append', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const path = join(dir, 'file.log');
  writeFileSync(path, 'whole|torn');
  const appender = new Appender(path, store(), { ...identity, validLength: async () => 'whole|'.length });
  await appender.append(Buffer.from('next|'));
  await appender.close();
  t.equal(readFileSync(path, 'utf8'), 'whole|next|');
});
