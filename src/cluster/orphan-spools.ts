import { mkdir, readdir, rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SEGMENT_PATTERN } from '../destinations/spool/spool';
import { workerDirName } from './worker-config';

// Spool segments that no process of this run would replay: those of a single process when
// the gateway now runs workers (segments directly in the spool directory), and those of a
// worker that no longer exists (`worker-3` when there are now two). Before any worker
// starts, they are moved into the directories of the workers that do exist, after those
// workers' own segments, so every acknowledged event is replayed whatever `workers` became.

const WORKER_DIR = /^worker-(\d+)$/;

/** Moves orphaned segments under `root` to the spools of workers 1..count (1: `root` itself); resolves with how many moved. */
export async function adoptOrphanSpools(root: string, count: number): Promise<number> {
  const ownDir = (id: number) => (count === 1 ? root : join(root, workerDirName(id)));
  const orphans: string[] = [];
  const emptied: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return 0; // no spool yet
  }
  if (count > 1) orphans.push(...entries.filter((n) => SEGMENT_PATTERN.test(n)).sort().map((n) => join(root, n)));
  for (const name of entries) {
    const id = Number(WORKER_DIR.exec(name)?.[1]);
    if (!id || (count > 1 && id <= count)) continue;
    const dir = join(root, name);
    orphans.push(...(await readdir(dir)).filter((n) => SEGMENT_PATTERN.test(n)).sort().map((n) => join(dir, n)));
    emptied.push(dir);
  }
  const nextSeq = new Map<number, number>();
  for (const [i, path] of orphans.entries()) {
    const id = (i % count) + 1;
    const dir = ownDir(id);
    if (!nextSeq.has(id)) {
      await mkdir(dir, { recursive: true });
      const seqs = (await readdir(dir)).map((n) => Number(SEGMENT_PATTERN.exec(n)?.[1] ?? 0));
      nextSeq.set(id, Math.max(0, ...seqs) + 1);
    }
    const seq = nextSeq.get(id)!;
    nextSeq.set(id, seq + 1);
    await rename(path, join(dir, `segment-${String(seq).padStart(12, '0')}.log`));
  }
  for (const dir of emptied) await rmdir(dir).catch(() => undefined);
  return orphans.length;
}
