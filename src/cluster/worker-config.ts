import { join } from 'node:path';
import { deepFreeze, type GatewayConfig } from '../config/config';
import { deadLetterDir, spoolDir } from '../destinations/create-destination';

// What one worker of several gets: its own directories, so that no file, minute file, dead
// letter or spool segment ever has two writers, and its share of every byte bound, so that
// the bounds still hold for the pod as a whole. Worker N always gets the same directories:
// a worker restarted after a crash finds the spool its predecessor left and replays it.

export function workerDirName(id: number): string {
  return `worker-${id}`;
}

/** The config of worker `id` (1-based) of `count`; with one worker, the config unchanged. */
export function workerConfig(config: Readonly<GatewayConfig>, id: number, count: number): Readonly<GatewayConfig> {
  if (count === 1) return config;
  const own = (dir: string) => join(dir, workerDirName(id));
  const share = (bytes: number) => Math.max(1, Math.floor(bytes / count));
  const copy = structuredClone(config) as GatewayConfig;
  copy.workers = count;
  copy.dataDir = own(config.dataDir);
  copy.spool.dir = own(spoolDir(config));
  copy.deadLetter.dir = own(deadLetterDir(config));
  for (const [name, entry] of Object.entries(copy.destinations)) {
    if (entry.type === 'file') entry.dir = own((config.destinations[name] as { dir?: string }).dir ?? config.dataDir);
  }
  copy.buffer.maxBytes = share(config.buffer.maxBytes);
  copy.spool.maxBytes = share(config.spool.maxBytes);
  copy.deadLetter.maxBytes = share(config.deadLetter.maxBytes);
  return deepFreeze(copy);
}
