import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { workerConfig } from '../../src/cluster/worker-config';
import type { FileConfig } from '../../src/destinations/file/config';
import { buildConfig } from '../../src/config/config';
import { PROJECT_ROOT } from '../helpers/gateway';

// Each worker writes only its own directories, and the byte bounds hold for all together.

t.test('worker N of several: its own data, file, spool and dead-letter directories, a share of each bound', async (t) => {
  const config = buildConfig({
    dataDir: '/data',
    buffer: { maxBytes: 300 * 1024 * 1024 },
    spool: { maxBytes: 3 * 1024 * 1024 * 1024 },
    destinations: { local: { type: 'file' }, archive: { type: 'file', dir: '/archive' } },
  }, {});
  const second = workerConfig(config, 2, 3);
  t.equal(second.workers, 3);
  t.equal(second.dataDir, join('/data', 'worker-2'));
  t.equal(second.spool.dir, join('/data', '_spool', 'worker-2'));
  t.equal(second.deadLetter.dir, join('/data', '_dead-letter', 'worker-2'));
  t.equal((second.destinations.local as { dir?: string }).dir, join('/data', 'worker-2'), 'a file destination without dir: under dataDir');
  t.equal((second.destinations.archive as { dir?: string }).dir, join('/archive', 'worker-2'));
  t.equal(second.buffer.maxBytes, 100 * 1024 * 1024);
  t.equal(second.spool.maxBytes, 1024 * 1024 * 1024);
  t.equal(second.deadLetter.maxBytes, Math.floor(config.deadLetter.maxBytes / 3));
  t.ok(Object.isFrozen(second.spool), 'frozen like the config it came from');
  t.same(workerConfig(config, 2, 3), second, 'the same directories every time: a restarted worker finds its spool');

  const dirs = [1, 2, 3].map((id) => workerConfig(config, id, 3)).flatMap((c) => [c.dataDir, c.spool.dir, c.deadLetter.dir, (c.destinations.archive as { dir?: string }).dir]);
  t.equal(new Set(dirs).size, dirs.length, 'no two workers share a directory');

  const explicit = workerConfig(buildConfig({ spool: { dir: '/spool' }, deadLetter: { dir: '/dead' } }, {}), 1, 2);
  t.equal(explicit.spool.dir, join('/spool', 'worker-1'));
  t.equal(explicit.deadLetter.dir, join('/dead', 'worker-1'));

  t.equal(workerConfig(config, 1, 1), config, 'one worker: the config as it is, today\'s layout');
});

t.test('workers: 1 by default, auto or a number from the file or GATEWAY_WORKERS, refused when out of range', async (t) => {
  t.equal(buildConfig({}, {}).workers, 1);
  t.equal(buildConfig({}, { GATEWAY_WORKERS: 'auto' }).workers, 'auto');
  t.match(readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8'), /^ {4}GATEWAY_WORKERS=auto \\$/m, 'the image runs one worker per CPU');
  t.equal(buildConfig({ workers: 3 }, {}).workers, 3);
  t.equal(buildConfig({}, { GATEWAY_WORKERS: '4' }).workers, 4);
  t.throws(() => buildConfig({ workers: 0 }, {}), /workers/);
  t.throws(() => buildConfig({}, { GATEWAY_WORKERS: 'many' }), /workers \(from GATEWAY_WORKERS\)/);
});

t.test('workers ship under host ids of their own (<host>-w<N>, from hostId or the host name), each with its share of maxPendingBytes', async (t) => {
  const config = buildConfig({ destinations: { file: { type: 'file', s3: { bucket: 'minutes', hostId: 'pod-7' } }, other: { type: 'file', dir: '/o', s3: { bucket: 'minutes' } } } }, {});
  const s3Of = (entry: object | undefined) => (entry as FileConfig | undefined)?.s3;
  const ids = [1, 2].map((id) => s3Of(workerConfig(config, id, 2).destinations.file)?.hostId);
  t.same(ids, ['pod-7-w1', 'pod-7-w2']);
  t.equal(s3Of(workerConfig(config, 1, 2).destinations.file)?.maxPendingBytes, 5 * 1024 ** 3, 'each worker its share of maxPendingBytes');
  t.equal(s3Of(workerConfig(config, 2, 2).destinations.other)?.hostId, `${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-w2`);
  t.equal(s3Of(workerConfig(config, 1, 1).destinations.file)?.hostId, 'pod-7', 'one process: the id as it is');
});
