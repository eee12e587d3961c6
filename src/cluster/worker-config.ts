import { join } from 'node:path';
import { deepFreeze, type GatewayConfig } from '../config/config';
import { deadLetterDir, spoolDir } from '../destinations/create-destination';
import { destinationRegistry, destinationTypeOf, type DestinationRegistry } from '../destinations/registry';

// What one worker of several gets: its own directories, so that no file, minute file, dead
// letter or spool segment ever has two writers, and its share of every byte bound, so that
// the bounds still hold for the pod as a whole. Worker N always gets the same directories:
// a worker restarted after a crash finds the spool its predecessor left and replays it.

export function workerDirName(id: number): string {
  return `worker-${id}`;
}

/** The config of worker `id` (1-based) of `count`; with one worker, the config unchanged. */
export function workerConfig(config: Readonly<GatewayConfig>, id: number, count: number, registry: DestinationRegistry = destinationRegistry): Readonly<GatewayConfig> {
  if (count === 1) return config;
  const own = (dir: string) => join(dir, workerDirName(id));
  const share = (bytes: number) => Math.max(1, Math.floor(bytes / count));
  const copy = structuredClone(config) as GatewayConfig;
  copy.workers = count;
  copy.dataDir = own(config.dataDir);
  copy.spool.dir = own(spoolDir(config));
  copy.deadLetter.dir = own(deadLetterDir(config));
  // A type that writes files or names objects by writer gives each worker its own.
  for (const entry of Object.values(copy.destinations)) destinationTypeOf(registry, entry.type)?.forWorker?.(entry, { id, count, dataDir: config.dataDir, own, share });
  copy.buffer.maxBytes = share(config.buffer.maxBytes);
  copy.spool.maxBytes = share(config.spool.maxBytes);
  copy.deadLetter.maxBytes = share(config.deadLetter.maxBytes);
  return deepFreeze(copy);
}
