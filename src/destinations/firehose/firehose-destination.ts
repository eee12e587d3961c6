import { FirehoseClient, PutRecordBatchCommand, type PutRecordBatchCommandOutput } from '@aws-sdk/client-firehose';
import { toCloudEventJson, type GatewayEvent } from '../../envelope/envelope';
import type { GatewayMetrics } from '../../metrics/metrics';
import { encodeEach, perRecord, type Destination, type FailureKind, type Misconfiguration, type RecordFailure } from '../destination';
import { awsMisconfiguration } from '../util/aws-misconfiguration';
import { splitIntoCalls } from '../util/call-splitting';
import { ThroughputLimiter } from '../util/throughput-limiter';
import { DEFAULT_PACK_RECORD_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, FIREHOSE, type FirehoseConfig } from './config';
import type { FirehoseMetrics } from './firehose-metrics';
import { MAX_BYTES_PER_CALL, MAX_RECORD_BYTES, MAX_RECORDS_PER_CALL } from './limits';
import { packRecords, type PackedRecord } from './record-packing';

/**
 * Amazon Data Firehose: CloudEvents JSON lines, several packed into one record, sent with
 * PutRecordBatch within its limits. Records over the stream's quota or learned rate are
 * handed back as throttled before any call, so the route moves them on; of a call, only the
 * records Firehose failed are handed back.
 */
export class FirehoseDestination implements Destination {
  readonly type = FIREHOSE;
  readonly maxRecordBytes = MAX_RECORD_BYTES;
  private readonly client: FirehoseClient;
  private readonly limiter: ThroughputLimiter;
  private lastCallFailed = false;
  /** What the last failed call said about the settings; cleared by a call that worked. */
  private misconfigured: Misconfiguration | undefined;
  /** Of the last send: events per packed record and bytes per event, to state room() in events. */
  private eventsPerRecord = 1;
  private bytesPerEvent = 0;

  constructor(
    readonly name: string,
    private readonly config: Readonly<FirehoseConfig>,
    private readonly metrics: FirehoseMetrics,
    gatewayMetrics: GatewayMetrics,
  ) {
    // The route decides where a failed record goes next; SDK retries would only hold it back.
    this.client = new FirehoseClient({
      region: config.region,
      endpoint: config.endpoint,
      maxAttempts: 1,
      requestHandler: { requestTimeout: config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS },
    });
    // Validation filled these defaults in; the fallbacks only satisfy the optional keys' type.
    this.limiter = new ThroughputLimiter(config.quota ?? {}, config.learnRate ?? true);
    gatewayMetrics.learnedRate.register(name, () => this.limiter.recordsPerSecond);
  }

  async start(): Promise<void> {}

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    const lines: { index: number; line: Buffer }[] = [];
    for (const { index, value: line } of encodeEach(events, (event) => Buffer.from(`${toCloudEventJson(event)}\n`), failures)) {
      if (line.length > MAX_RECORD_BYTES) {
        failures.push({ index, kind: 'too_large', message: `event is ${line.length} bytes; a Firehose record takes at most ${MAX_RECORD_BYTES}` });
      } else {
        lines.push({ index, line });
      }
    }
    const records = packRecords(lines, this.config.packRecordBytes ?? DEFAULT_PACK_RECORD_BYTES);
    if (records.length > 0) {
      this.eventsPerRecord = lines.length / records.length;
      this.bytesPerEvent = lines.reduce((sum, l) => sum + l.line.length, 0) / lines.length;
    }
    const calls = splitIntoCalls(records, MAX_RECORDS_PER_CALL, MAX_BYTES_PER_CALL, (r) => r.data.length);
    const results = await Promise.all(calls.map((call) => this.sendCall(call)));
    for (const failed of results) {
      for (const { record, kind, message } of failed) {
        for (const index of record.events) failures.push({ index, kind, message });
      }
    }
    // Nothing got through, for one reason of the stream's: thrown as a whole-batch failure,
    // which the route counts towards skipping the stream.
    return perRecord(failures, events.length);
  }

  isHealthy(): boolean {
    return !this.lastCallFailed;
  }

  misconfiguration(): Misconfiguration | undefined {
    return this.misconfigured;
  }

  /** Events the quotas and learned rate leave room for now, at the packing of the last send. */
  room(): number {
    const { records, bytes } = this.limiter.room();
    const byBytes = this.bytesPerEvent > 0 ? bytes / this.bytesPerEvent : Infinity;
    return Math.floor(Math.min(records * this.eventsPerRecord, byBytes));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** One PutRecordBatch, or none when the quota has no room: returns the records not taken. */
  private async sendCall(call: PackedRecord[]): Promise<{ record: PackedRecord; kind: FailureKind; message: string }[]> {
    const admitted = this.limiter.admit(call.map((r) => r.data.length));
    const overQuota = call.slice(admitted).map((record) => ({ record, kind: 'throttled' as const, message: `over ${this.config.stream}'s quota or learned rate` }));
    if (admitted === 0) return overQuota;
    const sent = call.slice(0, admitted);
    let output: PutRecordBatchCommandOutput;
    try {
      // A deadline for the whole call: the handler's requestTimeout only limits an idle socket
      // (and did not end a call whose endpoint held the request unanswered).
      output = await this.client.send(new PutRecordBatchCommand({ DeliveryStreamName: this.config.stream, Records: sent.map((r) => ({ Data: r.data })) }), {
        abortSignal: AbortSignal.timeout(this.config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const kind = classifyCallError(err);
      if (kind === 'throttled') this.limiter.onThrottled();
      this.lastCallFailed = kind === 'unavailable';
      const message = `PutRecordBatch to ${this.config.stream}: ${(err as Error).name}: ${(err as Error).message}`;
      const reason = awsMisconfiguration((err as Error).name);
      if (reason) this.misconfigured = { reason, message };
      return [...sent.map((record) => ({ record, kind, message })), ...overQuota];
    }
    this.lastCallFailed = false;
    this.misconfigured = undefined;
    const failed: { record: PackedRecord; kind: FailureKind; message: string }[] = [];
    let accepted = 0;
    let throttled = false;
    (output.RequestResponses ?? []).forEach((response, i) => {
      if (!response.ErrorCode) {
        accepted++;
        this.metrics.eventsPerRecord.labels(this.name).observe(sent[i].events.length);
        return;
      }
      const kind = classifyRecordError(response.ErrorCode);
      if (kind === 'throttled') throttled = true;
      failed.push({ record: sent[i], kind, message: `${response.ErrorCode}: ${response.ErrorMessage ?? ''}` });
    });
    this.limiter.onAccepted(accepted);
    if (throttled) this.limiter.onThrottled();
    return [...failed, ...overQuota];
  }
}

/** A whole call's error: Firehose throttling, else the stream is unavailable (or misconfigured) for now. */
function classifyCallError(err: unknown): FailureKind {
  const name = (err as Error).name;
  if (name === 'ServiceUnavailableException' || name === 'ThrottlingException' || name === 'LimitExceededException') return 'throttled';
  if (name === 'InvalidArgumentException' || name === 'ValidationException') return 'malformed';
  return 'unavailable';
}

/** A record's ErrorCode in a PutRecordBatch answer. */
function classifyRecordError(code: string): FailureKind {
  return code === 'ServiceUnavailableException' ? 'throttled' : 'unavailable';
}
