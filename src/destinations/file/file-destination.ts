import { toCloudEventJson, type GatewayEvent } from '../../envelope/envelope';
import { DestinationError, encodeEach, type Destination, type RecordFailure } from '../destination';
import { MinuteFiles } from './minute-files';

/**
 * The embedded default destination: CloudEvents JSON lines in gzip files,
 * `<dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz` by receive time (UTC).
 * A send resolves after the lines are fsynced.
 */
export class FileDestination implements Destination {
  readonly type = 'file';
  // One line of a file has no size limit of its own; this only keeps a single event sane.
  readonly maxRecordBytes = 16 * 1024 * 1024;
  private readonly files: MinuteFiles;
  private lastWriteFailed = false;

  constructor(
    readonly name: string,
    dir: string,
  ) {
    this.files = new MinuteFiles(dir);
  }

  async start(): Promise<void> {}

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    const encoded = encodeEach(events, toCloudEventJson, failures);
    const lines = encoded.map(({ index, value }) => ({ folder: `${events[index].schema.service}/${events[index].schema.topic}`, timeMs: events[index].receivedAt, line: value }));
    try {
      if (lines.length > 0) await this.files.appendLines(lines);
      this.lastWriteFailed = false;
      return failures;
    } catch (err) {
      this.lastWriteFailed = true;
      throw new DestinationError('unavailable', `file write failed: ${(err as Error).message}`);
    }
  }

  isHealthy(): boolean {
    return !this.lastWriteFailed;
  }

  async close(): Promise<void> {
    await this.files.close();
  }
}
