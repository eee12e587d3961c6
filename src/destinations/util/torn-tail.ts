import type { GatewayMetrics } from '../../metrics/metrics';
import type { DestinationLog } from '../destination';

/** Bounded `store` label values of torn_tails_cut_total. */
export type TornTailStore = 'minute_file' | 'spool_segment';

/**
 * Counts and logs a torn tail cut off a file: the bytes a crash (or a failed write that could
 * not be cut back) left after the file's last whole record. They were never acknowledged.
 */
export function reportTornTail(log: DestinationLog, metrics: GatewayMetrics, store: TornTailStore, file: string, size: number, kept: number): void {
  metrics.tornTailsCut.labels(store).inc();
  metrics.tornTailBytesCut.labels(store).inc(size - kept);
  log.warn({ store, file, bytesCut: size - kept, bytesKept: kept }, `cut a torn tail of ${size - kept} bytes off ${file}`);
}
