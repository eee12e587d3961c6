import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { adoptOrphanSpools } from '../../src/cluster/orphan-spools';
import { removeDir, tempDir } from '../helpers/gateway';

// Whatever `workers` was before, every spool segment left on disk belongs to a worker of
// this run afterwards, after that worker's own segments (so nothing is overwritten).

const segment = (seq: number) => `segment-${String(seq).padStart(12, '0')}.log`;
const write = (dir: string, seq: number, text: string) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, segment(seq)), text);
};
const contents = (dir: string) => readdirSync(dir).sort().map((n) => `${n}:${readFileSync(join(dir, n), 'utf8')}`);

t.test('one process, then two workers, then one again: no segment is left unowned', async (t) => {
  const root = tempDir();
  t.teardown(() => removeDir(root));
  write(root, 1, 'single-a');
  write(root, 2, 'single-b');
  write(join(root, 'worker-1'), 7, 'w1-own');
  write(join(root, 'worker-3'), 1, 'w3-a');

  t.equal(await adoptOrphanSpools(root, 2), 3, 'the single process\'s two and worker 3\'s one');
  t.same(contents(join(root, 'worker-1')), [`${segment(7)}:w1-own`, `${segment(8)}:single-a`, `${segment(9)}:w3-a`], 'after worker 1\'s own segment');
  t.same(contents(join(root, 'worker-2')), [`${segment(1)}:single-b`]);
  t.same(readdirSync(root).sort(), ['worker-1', 'worker-2'], 'worker 3\'s folder is gone');
  t.equal(await adoptOrphanSpools(root, 2), 0, 'nothing left to move');

  t.equal(await adoptOrphanSpools(root, 1), 4, 'back to one process: every worker\'s segments');
  t.same(contents(root).filter((n) => n.startsWith('segment-')).map((n) => n.split(':')[1]).sort(), ['single-a', 'single-b', 'w1-own', 'w3-a']);
  t.equal(await adoptOrphanSpools(join(root, 'missing'), 2), 0, 'no spool yet');
});
