import { toCloudEventJson, type GatewayEvent } from '../../envelope/envelope';
import { LogLimiter } from '../../log/log-limiter';
import type { TopicVersion } from '../../topics/registry';
import type { GatewayMetrics } from '../../metrics/metrics';
import { encodeEach, perRecord, type Destination, type DestinationLog, type RecordFailure } from '../destination';
import { FILE } from './config';
import { MinuteFiles } from './minute-files';
import { S3Shipper } from './s3-shipper';
import type { S3Shipping } from './s3-shipping-config';
import type { S3ShippingMetrics } from './s3-shipping-metrics';

/** `<service>/<topic>` of each version, made once rather than once per event. */
const folders = new WeakMap<TopicVersion, string>();
function folderOf(version: TopicVersion): string {
  let folder = folders.get(version);
  if (folder === undefined) folders.set(version, (folder = `${version.service}/${version.topic}`));
  return folder;
}

/** How often a failing disk's reason is logged at most. */
const LOG_INTERVAL_MS = 10_000;

/**
 * The embedded default destination: CloudEvents JSON lines in gzip files,
 * `<dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz` by receive time (UTC).
 * A send resolves after the lines are fsynced; the lines of a file that could not be written
 * fail as `unavailable` and move down the route. With `s3`, closed files are shipped to S3
 * (s3-shipper.ts); while the files waiting for it hold maxPendingBytes, every event is refused
 * as `unavailable`, so that it moves down the route to the spool.
 */
export class FileDestination implements Destination {
  readonly type = FILE;
  // One line of a file has no size limit of its own; this only keeps a single event sane.
  readonly maxRecordBytes = 16 * 1024 * 1024;
  private readonly files: MinuteFiles;
  private lastWriteFailed = false;
  private readonly shipper: S3Shipper | undefined;

  constructor(
    readonly name: string,
    dir: string,
    metrics: GatewayMetrics,
    log: DestinationLog,
    s3?: { settings: S3Shipping; metrics: S3ShippingMetrics },
  ) {
    this.files = new MinuteFiles(dir, { name: 'file', log, metrics, limiter: new LogLimiter(LOG_INTERVAL_MS) }, s3 && s3.settings.graceSeconds * 1000);
    if (s3) this.shipper = new S3Shipper({ name, root: dir, settings: s3.settings, files: this.files, metrics: s3.metrics, gatewayMetrics: metrics, log });
  }

  /** Cuts torn tails a crash left in the files (the dead letter and spool folders see to theirs). */
  async start(): Promise<void> {
    await this.files.repair({ skipReserved: true });
    this.shipper?.start();
  }

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    if (this.shipper?.full) throw this.shipper.refusal(events.length);
    const failures: RecordFailure[] = [];
    const encoded = encodeEach(events, toCloudEventJson, failures);
    if (encoded.length === 0) return failures;
    const lines = encoded.map(({ index, value }) => ({ folder: folderOf(events[index].schema), timeMs: events[index].receivedAt, line: value }));
    const notWritten = await this.files.appendLines(lines);
    // The disk counts as failing when none of the lines could be written.
    this.lastWriteFailed = notWritten.reduce((n, f) => n + f.indexes.length, 0) === lines.length;
    for (const { indexes, error } of notWritten) {
      for (const i of indexes) failures.push({ index: encoded[i].index, kind: 'unavailable', message: `file write failed: ${error.message}` });
    }
    return perRecord(failures, events.length);
  }

  isHealthy(): boolean {
    return !this.lastWriteFailed && !this.shipper?.full;
  }

  async close(): Promise<void> {
    await this.shipper?.stop();
    await this.files.close();
  }
}
