import { DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand, type PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { GatewayEvent } from '../../envelope/envelope';
import type { GatewayMetrics } from '../../metrics/metrics';
import { encodeEach, perRecord, type Destination, type DestinationContext, type DestinationLog, type FailureKind, type Misconfiguration, type RecordFailure } from '../destination';
import { awsMisconfiguration } from '../util/aws-misconfiguration';
import { splitIntoCalls } from '../util/call-splitting';
import { ThroughputLimiter } from '../util/throughput-limiter';
import type { KinesisDestinationConfig, KinesisFormat } from './config';
import type { KinesisMetrics } from './kinesis-metrics';
import { toKinesisRecord, type KinesisRecord } from './kinesis-record';
import { MAX_BYTES_PER_CALL, MAX_RECORD_BYTES, MAX_RECORDS_PER_CALL } from './limits';
import { ShardQuota } from './shard-quota';
import { topicFormat } from './topic-options';

/** When the stream's shards are counted again (start aside). */
export interface ShardRefresh {
  /** This often: a stream may be resharded (or scale on demand) while the gateway runs. */
  everyMs: number;
  /** After a throttle (the stream may have fewer shards than counted), but not more often than this. */
  afterThrottleMinMs: number;
}
const SHARD_REFRESH: ShardRefresh = { everyMs: 5 * 60_000, afterThrottleMinMs: 30_000 };
/**
 * Error texts from the endpoint travel into logs and dead letters, once per failed record: cut
 * to this (Kinesis' own are one sentence; an endpoint that sends more is not trusted with more).
 */
const MAX_ERROR_TEXT_CHARS = 512;
const clipText = (text: string) => (text.length > MAX_ERROR_TEXT_CHARS ? `${text.slice(0, MAX_ERROR_TEXT_CHARS)}…` : text);

/** One record of a call and the index of its event in the batch given to send. */
interface Entry {
  index: number;
  record: KinesisRecord;
}
interface EntryFailure {
  entry: Entry;
  kind: FailureKind;
  message: string;
}

export interface KinesisDestinationDeps {
  metrics: KinesisMetrics;
  gatewayMetrics: GatewayMetrics;
  log: DestinationLog;
}

/**
 * Amazon Kinesis Data Streams: one record per event, sent with PutRecords within its limits.
 * The stream's quota comes from its open shards (or the config), bounded further by the rate
 * learned from throttling; records beyond it are handed back as throttled before any call, and
 * of a call only the records Kinesis failed are handed back. The route decides where they go:
 * this destination never sends a record twice by itself.
 */
export class KinesisDestination implements Destination {
  readonly type = 'kinesis';
  readonly maxRecordBytes = MAX_RECORD_BYTES;
  private readonly client: KinesisClient;
  private readonly quota: ShardQuota;
  private readonly limiter: ThroughputLimiter;
  /** StreamARN when configured (a stream in another account), else StreamName. */
  private readonly streamRef: { StreamARN: string } | { StreamName: string };
  private readonly formats = new Map<string, KinesisFormat>();
  private unavailable = false;
  /** What the last failed call said about the settings; cleared by a call that worked. */
  private misconfigured: Misconfiguration | undefined;
  private describeFailureLogged = false;
  private lastDescribeAt = -Infinity;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Bytes per record of the last send, to state room() in events. */
  private bytesPerRecord = 0;

  constructor(
    readonly name: string,
    private readonly config: KinesisDestinationConfig,
    private readonly deps: KinesisDestinationDeps,
    private readonly refresh: ShardRefresh = SHARD_REFRESH,
  ) {
    // The route decides where a failed record goes next; SDK retries would only hold it back.
    // HTTP/1.1 as for Firehose: the Kinesis client defaults to HTTP/2 (for SubscribeToShard),
    // which an http:// endpoint (a VPC proxy, an emulator) cannot speak.
    this.client = new KinesisClient({
      region: config.region,
      endpoint: config.endpoint,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ requestTimeout: config.requestTimeoutMs }),
    });
    this.streamRef = config.streamArn !== undefined ? { StreamARN: config.streamArn } : { StreamName: config.stream };
    this.quota = new ShardQuota(config.quota);
    // Kinesis throttles per shard: one hot key's shard can refuse far below the stream's sum.
    this.limiter = new ThroughputLimiter(this.quota, config.learnRate, Date.now, { throttlesBelowQuota: true });
    deps.gatewayMetrics.learnedRate.register(name, () => this.limiter.recordsPerSecond);
  }

  async start({ topics }: DestinationContext): Promise<void> {
    for (const topic of topics) {
      const format = topicFormat(topic);
      if (format !== undefined) this.formats.set(`${topic.service}/${topic.name}`, format);
    }
    await this.describeStream();
    this.refreshTimer = setInterval(() => void this.describeStream(), this.refresh.everyMs).unref();
  }

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    const failures: RecordFailure[] = [];
    const entries: Entry[] = [];
    for (const { index, value: record } of encodeEach(events, (event) => toKinesisRecord(event, this.formatOf(event)), failures)) {
      if (record.bytes > MAX_RECORD_BYTES) {
        failures.push({ index, kind: 'too_large', message: `event is ${record.bytes} bytes with its partition key; a Kinesis record takes at most ${MAX_RECORD_BYTES}` });
      } else {
        entries.push({ index, record });
      }
    }
    if (entries.length > 0) this.bytesPerRecord = entries.reduce((sum, e) => sum + e.record.bytes, 0) / entries.length;
    const calls = splitIntoCalls(entries, MAX_RECORDS_PER_CALL, MAX_BYTES_PER_CALL, (e) => e.record.bytes);
    const failed = (await Promise.all(calls.map((call) => this.sendCall(call)))).flat();
    for (const { entry, kind, message } of failed) failures.push({ index: entry.index, kind, message });
    // Every record failed with one retryable kind: thrown as the whole-batch failure it is.
    return perRecord(failures, events.length);
  }

  isHealthy(): boolean {
    return !this.unavailable;
  }

  misconfiguration(): Misconfiguration | undefined {
    return this.misconfigured;
  }

  /** Events the quota and learned rate leave room for now, at the record size of the last send. */
  room(): number {
    const { records, bytes } = this.limiter.room();
    return Math.floor(Math.min(records, this.bytesPerRecord > 0 ? bytes / this.bytesPerRecord : Infinity));
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    this.client.destroy();
  }

  private formatOf(event: GatewayEvent): KinesisFormat {
    return this.formats.get(`${event.schema.service}/${event.schema.topic}`) ?? this.config.format;
  }

  /**
   * Counts the stream's open shards, which set its quota. A stream that does not exist makes the
   * destination unavailable (the route skips it and probes it back); any other failure, such as
   * a role without kinesis:DescribeStreamSummary, leaves the configured quota and the learned
   * rate in charge, and is logged once.
   */
  private async describeStream(): Promise<void> {
    this.lastDescribeAt = Date.now();
    try {
      const output = await this.client.send(new DescribeStreamSummaryCommand(this.streamRef), this.deadline());
      const shards = output.StreamDescriptionSummary?.OpenShardCount;
      if (shards !== undefined && shards > 0) {
        if (shards !== this.quota.shards) this.deps.log.info({ destination: this.name, stream: this.config.stream, shards }, `Kinesis stream ${this.config.stream} has ${shards} open shards`);
        this.quota.shards = shards;
        this.deps.metrics.openShards.labels(this.name).set(shards);
      }
      this.unavailable = false;
      if (this.misconfigured?.reason === 'missing_stream') this.misconfigured = undefined;
      this.describeFailureLogged = false;
    } catch (err) {
      const { name, message } = errorParts(err);
      if (name === 'ResourceNotFoundException') {
        this.unavailable = true;
        this.misconfigured = { reason: 'missing_stream', message: `DescribeStreamSummary of ${this.config.stream}: ${name}: ${message}` };
      }
      if (this.describeFailureLogged) return;
      this.describeFailureLogged = true;
      const quota = this.quota.recordsPerSecond === undefined ? 'the learned rate alone' : `${this.quota.recordsPerSecond} records/s`;
      this.deps.log.warn({ destination: this.name, stream: this.config.stream, err: { name, message } }, `cannot count the shards of Kinesis stream ${this.config.stream} (${name}: ${message}); its quota stays ${quota}`);
    }
  }

  /**
   * The whole call's deadline: the handler's requestTimeout only limits an idle socket, and did
   * not end a call whose endpoint held the request unanswered.
   */
  private deadline(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.config.requestTimeoutMs) };
  }

  /** A throttle may mean the stream has fewer shards than last counted (or hot ones): count again, now and then. */
  private onThrottled(): void {
    this.limiter.onThrottled();
    if (Date.now() - this.lastDescribeAt >= this.refresh.afterThrottleMinMs) void this.describeStream();
  }

  /** One PutRecords, or none when the quota has no room: returns the records not taken. */
  private async sendCall(call: Entry[]): Promise<EntryFailure[]> {
    const admitted = this.limiter.admit(call.map((e) => e.record.bytes));
    const overQuota = call.slice(admitted).map((entry) => ({ entry, kind: 'throttled' as const, message: `over ${this.config.stream}'s quota or learned rate` }));
    if (admitted === 0) return overQuota;
    const sent = call.slice(0, admitted);
    let output: PutRecordsCommandOutput;
    try {
      output = await this.client.send(
        new PutRecordsCommand({ ...this.streamRef, Records: sent.map(({ record }) => ({ Data: record.data, PartitionKey: record.partitionKey })) }),
        this.deadline(),
      );
    } catch (err) {
      const { name, message } = errorParts(err);
      const kind = classifyCallError(name);
      this.deps.metrics.countCall(this.name, kind);
      if (kind === 'throttled') this.onThrottled();
      this.unavailable = kind === 'unavailable';
      const text = `PutRecords to ${this.config.stream}: ${name}: ${message}`;
      const reason = awsMisconfiguration(name);
      if (reason) this.misconfigured = { reason, message: text };
      return [...sent.map((entry) => ({ entry, kind, message: text })), ...overQuota];
    }
    this.unavailable = false;
    this.misconfigured = undefined;
    const results = output.Records ?? [];
    const failed: EntryFailure[] = [];
    const codes = new Map<string, number>();
    let throttled = false;
    sent.forEach((entry, i) => {
      const result = results[i];
      const code = result === undefined ? 'InternalFailure' : result.ErrorCode;
      if (code === undefined) return;
      const kind = classifyRecordError(code);
      if (kind === 'throttled') throttled = true;
      codes.set(code, (codes.get(code) ?? 0) + 1);
      failed.push({ entry, kind, message: clipText(`${code}: ${result?.ErrorMessage ?? 'no result for this record'}`) });
    });
    for (const [code, count] of codes) this.deps.metrics.countFailedRecords(this.name, code, count);
    this.deps.metrics.countCall(this.name, failed.length === 0 ? 'ok' : 'partial');
    this.limiter.onAccepted(sent.length - failed.length);
    if (throttled) this.onThrottled();
    return [...failed, ...overQuota];
  }
}

function errorParts(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: clipText(err.name), message: clipText(err.message) } : { name: 'Error', message: clipText(String(err)) };
}

/**
 * A whole call's error: throttling (of the stream or of its KMS key) moves every record of the
 * call on as throttled; a request Kinesis refuses as invalid is malformed; anything else (no
 * such stream, access denied, a KMS key unusable, network errors, timeouts) is unavailable.
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html#API_PutRecords_Errors
 */
function classifyCallError(name: string): Extract<FailureKind, 'throttled' | 'unavailable' | 'malformed'> {
  if (name === 'ProvisionedThroughputExceededException' || name === 'KMSThrottlingException' || name === 'LimitExceededException' || name === 'ThrottlingException') return 'throttled';
  if (name === 'InvalidArgumentException' || name === 'ValidationException') return 'malformed';
  return 'unavailable';
}

/** A record's ErrorCode in a PutRecords answer: ProvisionedThroughputExceededException or InternalFailure. */
function classifyRecordError(code: string): FailureKind {
  return code === 'ProvisionedThroughputExceededException' ? 'throttled' : 'unavailable';
}
