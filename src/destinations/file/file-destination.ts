import { toCloudEventJson, type GatewayEvent } from '../../envelope/envelope';
import { LogLimiter } from '../../log/log-limiter';
import type { GatewayMetrics } from '../../metrics/metrics';
import { encodeEach, perRecord, type Destination, type DestinationLog, type RecordFailure } from '../destination';
import { FILE } from './config';
import { MinuteFiles } from './minute-files';

/** How often a failing disk's reason is logged at most. */
const LOG_INTERVAL_MS = 10_000;

/**
 * The embedded default destination: CloudEvents JSON lines in gzip files,
 * `<dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz` by receive time (UTC).
 * A send resolves after the lines are fsynced; the lines of a file that could not be written
 * fail as `unavailable` and move down the route.
 */
export class FileDestination implements Destination {
  readonly type = FILE;
  // One line of a file has no size limit of its own; this only keeps a single event sane.
  readonly maxRecordBytes = 16 * 1024 * 1024;
  private readonly files: MinuteFiles;
  private lastWriteFailed = false;

  constructor(
    readonly name: string,
    dir: string,
    metrics: GatewayMetrics,
    log: DestinationLog,
  ) {
    this.files = new MinuteFiles(dir, { name: 'file', log, metrics, limiter: new LogLimiter(LOG_INTERVAL_MS) });
  }

  /** Cuts torn tails a crash left in the files (the dead letter and spool folders see to theirs). */
  async start(): Promise<void> {
    await this.files.repair({ skipReserved: true });
  }

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    const encoded = encodeEach(events, toCloudEventJson, failures);
    if (encoded.length === 0) return failures;
    const lines = encoded.map(({ index, value }) => ({ folder: `${events[index].schema.service}/${events[index].schema.topic}`, timeMs: events[index].receivedAt, line: value }));
    const notWritten = await this.files.appendLines(lines);
    // The disk counts as failing when none of the lines could be written.
    this.lastWriteFailed = notWritten.reduce((n, f) => n + f.indexes.length, 0) === lines.length;
    for (const { indexes, error } of notWritten) {
      for (const i of indexes) failures.push({ index: encoded[i].index, kind: 'unavailable', message: `file write failed: ${error.message}` });
    }
    return perRecord(failures, events.length);
  }

  isHealthy(): boolean {
    return !this.lastWriteFailed;
  }

  async close(): Promise<void> {
    await this.files.close();
  }
}
