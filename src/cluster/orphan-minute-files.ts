import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DestinationLog } from '../destinations/destination';
import { MinuteFiles } from '../destinations/file/minute-files';
import { LogLimiter } from '../log/log-limiter';
import { GatewayMetrics } from '../metrics/metrics';

// Minute files (and dead letters) that no process of this run would check for a torn tail:
// each worker repairs only its own folder (`worker-N`), so when a crashed run had one process
// (files straight under the data directory) or more workers than this one (`worker-3` when
// there are now two), their torn tails stayed, and `gzip -t` refused those files for ever.
// Before any worker starts, the primary cuts them as a worker would its own: counted in the
// log (the primary's metrics are not scraped; its workers' are).

const WORKER_DIR = /^worker-(\d+)$/;
const LOG_INTERVAL_MS = 10_000;

/** Repairs every minute file under `dataDir` outside the folders of workers 1..count; resolves with the folders checked. */
export async function repairOrphanMinuteFiles(dataDir: string, count: number, log: DestinationLog): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dataDir, { withFileTypes: true });
  } catch {
    return []; // no data yet
  }
  const checked: string[] = [];
  const metrics = new GatewayMetrics();
  for (const entry of entries) {
    const id = Number(WORKER_DIR.exec(entry.name)?.[1]);
    if (!entry.isDirectory() || (id >= 1 && id <= count)) continue;
    const root = join(dataDir, entry.name);
    const files = new MinuteFiles(root, { name: 'file', log, metrics, limiter: new LogLimiter(LOG_INTERVAL_MS) });
    try {
      await files.repair({ skipReserved: false });
    } finally {
      await files.close();
    }
    checked.push(root);
  }
  return checked;
}
