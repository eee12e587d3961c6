// An HTTP proxy in front of moto that throttles Firehose (PutRecordBatch, PutRecord) and
// Kinesis Data Streams (PutRecords) the way the real services do. moto accepts everything,
// so without this the gateway's throttling, partial-failure and fallback paths would never
// run in tests. The proxy also checks the hard per-call limits
// and records the largest calls and records it saw, so tests can prove the gateway's
// batches stay inside them.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

// Hard limits of one call, which no quota increase changes:
// https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
// https://docs.aws.amazon.com/firehose/latest/dev/limits.html
/** "Each PutRecordBatch request supports up to 500 records." */
export const MAX_RECORDS_PER_CALL = 500;
/** "Each record ... can be as large as 1,000 KB (before base64 encoding)": the API model's `Data` max length, 1,024,000 bytes. */
export const MAX_RECORD_BYTES = 1_024_000;
/** "up to a limit of 4 MB for the entire request"; the limits page says 4 MiB per call. */
export const MAX_BYTES_PER_CALL = 4 * 1024 * 1024;

// Kinesis PutRecords' hard limits:
// https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
/** "Each PutRecords request can support up to 500 records." */
export const KINESIS_MAX_RECORDS_PER_CALL = 500;
/** "Each record in the request can be as large as 1 MiB" (data and partition key). */
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;
/** "up to a limit of 5 MiB for the entire request, including partition keys." */
export const KINESIS_MAX_BYTES_PER_CALL = 5 * 1024 * 1024;

// The throttling quotas are per second; a sliding window of this length enforces them.
const QUOTA_WINDOW_MS = 1_000;

// Firehose's JSON 1.1 RPC names the operation in this header, e.g. Firehose_20150804.PutRecordBatch.
const TARGET_PREFIX = 'Firehose_20150804.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

// Error wire format of the AWS JSON 1.1 protocol: the shape name in `x-amzn-ErrorType` and
// in the body's `__type`, the text in `message`
// (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html). Statuses come from the
// Firehose API model (ServiceUnavailableException carries httpError 503, as compiled into
// @aws-sdk/client-firehose; client errors default to 400). The messages are the ones real
// Firehose sends (throttling: "Slow down."; limit violations: Coral validation text).
const FIREHOSE_ERRORS = {
  ServiceUnavailableException: 503,
  InvalidArgumentException: 400,
  ValidationException: 400,
} as const;
type FirehoseErrorType = keyof typeof FIREHOSE_ERRORS;
const THROTTLED_MESSAGE = 'Slow down.';

// Kinesis speaks the same JSON 1.1 protocol; its errors are client errors (400) in the
// Kinesis API model, as compiled into @aws-sdk/client-kinesis. Its per-record throttling
// names the shard, stream and account.
const KINESIS_TARGET_PREFIX = 'Kinesis_20131202.';
const KINESIS_ERRORS = {
  ProvisionedThroughputExceededException: 400,
  InvalidArgumentException: 400,
  ValidationException: 400,
} as const;
type KinesisErrorType = keyof typeof KINESIS_ERRORS;
const kinesisThrottledMessage = (stream: string) => `Rate exceeded for shard shardId-000000000000 in stream ${stream} under account 123456789012.`;

export interface FirehoseQuota {
  recordsPerSecond?: number;
  bytesPerSecond?: number;
  requestsPerSecond?: number;
}

export interface FirehoseStreamStats {
  /** PutRecord and PutRecordBatch calls received, whatever their outcome. */
  calls: number;
  /** Calls refused whole with ServiceUnavailableException. */
  throttledCalls: number;
  recordsAccepted: number;
  /** Records refused by throttling, per record or in a call refused whole. */
  recordsThrottled: number;
  /** Calls refused for breaking a hard per-call limit (records, bytes, record size). */
  limitViolations: number;
  /** Kinesis records failed with an error code a test asked for (failKinesisRecords). */
  recordsFailed: number;
  /** Kinesis PutRecords calls that named the stream by StreamARN rather than StreamName. */
  callsByArn: number;
  maxRecordsPerCall: number;
  /** Sum of the decoded `Data` bytes of one call. */
  maxBytesPerCall: number;
  maxRecordBytes: number;
}

export interface FirehoseQuotaProxyOptions {
  /** moto's endpoint, e.g. http://127.0.0.1:5000. */
  upstream: string;
  quotas: Record<string, FirehoseQuota>;
}

interface FirehoseRecord {
  Data: string;
}

interface KinesisRecord {
  Data: string;
  PartitionKey: string;
}

interface PutRecordsResponse {
  FailedRecordCount: number;
  EncryptionType?: string;
  Records: Array<{ SequenceNumber?: string; ShardId?: string; ErrorCode?: string; ErrorMessage?: string }>;
}

interface PutRecordBatchResponse {
  FailedPutCount: number;
  Encrypted?: boolean;
  RequestResponses: Array<{ RecordId?: string; ErrorCode?: string; ErrorMessage?: string }>;
}

interface UpstreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What one stream accepted within the last QUOTA_WINDOW_MS, one entry per admitted call. */
class UsageWindow {
  private entries: Array<{ at: number; records: number; bytes: number }> = [];

  usage(now: number): { requests: number; records: number; bytes: number } {
    this.entries = this.entries.filter((entry) => now - entry.at < QUOTA_WINDOW_MS);
    let records = 0;
    let bytes = 0;
    for (const entry of this.entries) {
      records += entry.records;
      bytes += entry.bytes;
    }
    return { requests: this.entries.length, records, bytes };
  }

  add(now: number, records: number, bytes: number): void {
    this.entries.push({ at: now, records, bytes });
  }
}

class StreamState {
  readonly window = new UsageWindow();
  readonly stats: FirehoseStreamStats = {
    calls: 0,
    throttledCalls: 0,
    recordsAccepted: 0,
    recordsThrottled: 0,
    limitViolations: 0,
    recordsFailed: 0,
    callsByArn: 0,
    maxRecordsPerCall: 0,
    maxBytesPerCall: 0,
    maxRecordBytes: 0,
  };
  /** Kinesis records still to fail with `errorCode` instead of reaching moto. */
  recordFailures: { errorCode: string; remaining: number } | undefined;
  constructor(public quota: FirehoseQuota) {}
}

// Headers that describe one connection, not the message, so they are not copied across the proxy.
const HOP_BY_HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP_HEADERS.has(name)));
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => done(Buffer.concat(chunks)));
    stream.once('error', fail);
  });
}

function sendJson(res: ServerResponse, status: number, headers: IncomingHttpHeaders, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...endToEndHeaders(headers), 'content-type': JSON_CONTENT_TYPE, 'content-length': bytes.length });
  res.end(bytes);
}

function sendError(res: ServerResponse, type: FirehoseErrorType, message: string): void {
  sendJson(res, FIREHOSE_ERRORS[type], { 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID() }, {
    __type: type,
    message,
  });
}

function sendKinesisError(res: ServerResponse, type: KinesisErrorType, message: string): void {
  sendJson(res, KINESIS_ERRORS[type], { 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID() }, { __type: type, message });
}

/** The Coral validation text real Firehose answers with for a too-long list or blob. */
function lengthViolation(memberPath: string, max: number): string {
  return `1 validation error detected: Value at '${memberPath}' failed to satisfy constraint: ` +
    `Member must have length less than or equal to ${max}`;
}

export class FirehoseQuotaProxy {
  private readonly streams = new Map<string, StreamState>();
  /**
   * The last Kinesis put forwarded to moto, per stream. moto numbers a shard's records without
   * a lock: concurrent PutRecords to one stream may get the same sequence number, and then one
   * record overwrites the other (4 concurrent calls of 500 records kept 1,996). Real Kinesis
   * does not, so the proxy forwards one put per stream at a time.
   */
  private readonly kinesisPuts = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    readonly endpoint: string,
    quotas: Record<string, FirehoseQuota>,
  ) {
    for (const [stream, quota] of Object.entries(quotas)) this.streams.set(stream, new StreamState(quota));
  }

  static async start(options: FirehoseQuotaProxyOptions): Promise<FirehoseQuotaProxy> {
    const server = createServer();
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', done);
    });
    const { port } = server.address() as AddressInfo;
    const proxy = new FirehoseQuotaProxy(server, new URL(options.upstream), `http://127.0.0.1:${port}`, options.quotas);
    server.on('request', (req, res) => {
      proxy.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`firehose quota proxy: ${String(error)}`);
      });
    });
    return proxy;
  }

  stats(stream: string): FirehoseStreamStats {
    return { ...this.state(stream).stats };
  }

  setQuota(stream: string, quota: FirehoseQuota): void {
    this.state(stream).quota = quota;
  }

  /**
   * The next `count` Kinesis records within the quota fail one by one with `errorCode` (e.g.
   * InternalFailure) instead of reaching moto, as the service may fail any record of a call.
   */
  failKinesisRecords(stream: string, errorCode: string, count: number): void {
    this.state(stream).recordFailures = { errorCode, remaining: count };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private state(stream: string): StreamState {
    let state = this.streams.get(stream);
    if (!state) {
      state = new StreamState({});
      this.streams.set(stream, state);
    }
    return state;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.headers['x-amz-target'];
    if (target === `${KINESIS_TARGET_PREFIX}PutRecords`) {
      const body = await readBody(req);
      const input = JSON.parse(body.toString('utf8')) as { StreamName?: string; StreamARN?: string; Records?: KinesisRecord[] };
      const stream = input.StreamName ?? input.StreamARN?.slice(input.StreamARN.lastIndexOf('/') + 1) ?? '';
      if (input.StreamName === undefined && input.StreamARN !== undefined) this.state(stream).stats.callsByArn += 1;
      await this.putKinesis(req, res, body, stream, input.Records ?? []);
      return;
    }
    const operation = typeof target === 'string' && target.startsWith(TARGET_PREFIX)
      ? target.slice(TARGET_PREFIX.length)
      : undefined;
    if (operation !== 'PutRecordBatch' && operation !== 'PutRecord') {
      this.pipeThrough(req, res);
      return;
    }
    const body = await readBody(req);
    const input = JSON.parse(body.toString('utf8')) as {
      DeliveryStreamName: string;
      Records?: FirehoseRecord[];
      Record?: FirehoseRecord;
    };
    const batch = operation === 'PutRecordBatch';
    const records = batch ? input.Records ?? [] : input.Record ? [input.Record] : [];
    await this.put(req, res, body, input.DeliveryStreamName, records, batch);
  }

  private async put(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    streamName: string,
    records: FirehoseRecord[],
    batch: boolean,
  ): Promise<void> {
    const state = this.state(streamName);
    const { stats } = state;
    const sizes = records.map((record) => Buffer.byteLength(record.Data, 'base64'));
    const callBytes = sizes.reduce((sum, size) => sum + size, 0);
    stats.calls += 1;
    stats.maxRecordsPerCall = Math.max(stats.maxRecordsPerCall, records.length);
    stats.maxBytesPerCall = Math.max(stats.maxBytesPerCall, callBytes);
    stats.maxRecordBytes = sizes.reduce((max, size) => Math.max(max, size), stats.maxRecordBytes);

    // Same order as the service: model validation (list length, blob length), then the call size.
    const oversized = sizes.findIndex((size) => size > MAX_RECORD_BYTES);
    const violation: [FirehoseErrorType, string] | undefined =
      records.length > MAX_RECORDS_PER_CALL ? ['ValidationException', lengthViolation('records', MAX_RECORDS_PER_CALL)]
      : oversized >= 0 ? ['ValidationException', lengthViolation(batch ? `records.${oversized + 1}.member.data` : 'record.data', MAX_RECORD_BYTES)]
      : callBytes > MAX_BYTES_PER_CALL ? ['InvalidArgumentException', 'Records size exceeds 4 MB limit']
      : undefined;
    if (violation) {
      stats.limitViolations += 1;
      sendError(res, ...violation);
      return;
    }

    const now = performance.now();
    const { quota, window } = state;
    const used = window.usage(now);
    const { accepted, acceptedBytes } = admitWithinQuota(sizes, used, quota);
    // Over the request rate, or a PutRecord whose one record does not fit: the whole call
    // fails. A PutRecordBatch whose records do not all fit fails per record instead, as
    // real Firehose does (its responses show "Slow down." entries, even for every record).
    if (used.requests + 1 > (quota.requestsPerSecond ?? Infinity) || (!batch && accepted === 0)) {
      stats.throttledCalls += 1;
      stats.recordsThrottled += records.length;
      sendError(res, 'ServiceUnavailableException', THROTTLED_MESSAGE);
      return;
    }
    window.add(now, accepted, acceptedBytes);
    stats.recordsAccepted += accepted;
    stats.recordsThrottled += records.length - accepted;

    if (accepted === records.length) {
      const reply = await this.forward(req, body);
      res.writeHead(reply.status, { ...endToEndHeaders(reply.headers), 'content-length': reply.body.length });
      res.end(reply.body);
      return;
    }
    await this.putPartially(req, res, body, records, accepted);
  }

  /** Sends the first `accepted` records to moto and reports the rest as throttled, in request order. */
  private async putPartially(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    records: FirehoseRecord[],
    accepted: number,
  ): Promise<void> {
    let upstream: PutRecordBatchResponse = { FailedPutCount: 0, Encrypted: false, RequestResponses: [] };
    let headers: IncomingHttpHeaders = { 'x-amzn-requestid': randomUUID() };
    if (accepted > 0) {
      const input = JSON.parse(body.toString('utf8')) as { Records: FirehoseRecord[] };
      input.Records = records.slice(0, accepted);
      const reply = await this.forward(req, Buffer.from(JSON.stringify(input)));
      if (reply.status !== 200) {
        res.writeHead(reply.status, { ...endToEndHeaders(reply.headers), 'content-length': reply.body.length });
        res.end(reply.body);
        return;
      }
      upstream = JSON.parse(reply.body.toString('utf8')) as PutRecordBatchResponse;
      headers = reply.headers;
    }
    const throttled = records.length - accepted;
    sendJson(res, 200, headers, {
      ...upstream,
      FailedPutCount: upstream.FailedPutCount + throttled,
      RequestResponses: [
        ...upstream.RequestResponses,
        ...Array.from({ length: throttled }, () => ({ ErrorCode: 'ServiceUnavailableException', ErrorMessage: THROTTLED_MESSAGE })),
      ],
    });
  }

  /** Kinesis PutRecords: the hard limits, then the stream's quota record by record, as Kinesis throttles. */
  private async putKinesis(req: IncomingMessage, res: ServerResponse, body: Buffer, streamName: string, records: KinesisRecord[]): Promise<void> {
    const state = this.state(streamName);
    const { stats } = state;
    const sizes = records.map((record) => Buffer.byteLength(record.Data, 'base64') + Buffer.byteLength(record.PartitionKey, 'utf8'));
    const callBytes = sizes.reduce((sum, size) => sum + size, 0);
    stats.calls += 1;
    stats.maxRecordsPerCall = Math.max(stats.maxRecordsPerCall, records.length);
    stats.maxBytesPerCall = Math.max(stats.maxBytesPerCall, callBytes);
    stats.maxRecordBytes = sizes.reduce((max, size) => Math.max(max, size), stats.maxRecordBytes);
    const oversized = sizes.findIndex((size) => size > KINESIS_MAX_RECORD_BYTES);
    const violation: [KinesisErrorType, string] | undefined =
      records.length > KINESIS_MAX_RECORDS_PER_CALL ? ['ValidationException', lengthViolation('records', KINESIS_MAX_RECORDS_PER_CALL)]
      : oversized >= 0 ? ['ValidationException', lengthViolation(`records.${oversized + 1}.member.data`, KINESIS_MAX_RECORD_BYTES)]
      : callBytes > KINESIS_MAX_BYTES_PER_CALL ? ['InvalidArgumentException', 'Records size exceeds 5 MB limit']
      : undefined;
    if (violation) {
      stats.limitViolations += 1;
      sendKinesisError(res, ...violation);
      return;
    }
    const now = performance.now();
    const { quota, window } = state;
    const used = window.usage(now);
    const { accepted, acceptedBytes } = admitWithinQuota(sizes, used, quota);
    if (used.requests + 1 > (quota.requestsPerSecond ?? Infinity)) {
      stats.throttledCalls += 1;
      stats.recordsThrottled += records.length;
      sendKinesisError(res, 'ProvisionedThroughputExceededException', kinesisThrottledMessage(streamName));
      return;
    }
    window.add(now, accepted, acceptedBytes);
    // The first records within the quota fail with an injected code, the rest go to moto.
    const failures = state.recordFailures;
    const failed = failures ? Math.min(failures.remaining, accepted) : 0;
    if (failures) failures.remaining -= failed;
    const forwarded = records.slice(failed, accepted);
    stats.recordsFailed += failed;
    stats.recordsAccepted += forwarded.length;
    stats.recordsThrottled += records.length - accepted;
    let upstream: PutRecordsResponse = { FailedRecordCount: 0, Records: [] };
    let headers: IncomingHttpHeaders = { 'x-amzn-requestid': randomUUID() };
    if (forwarded.length > 0) {
      const input = JSON.parse(body.toString('utf8')) as { Records: KinesisRecord[] };
      input.Records = forwarded;
      const reply = await this.forwardKinesisPut(streamName, req, Buffer.from(JSON.stringify(input)));
      if (reply.status !== 200 || forwarded.length === records.length) {
        res.writeHead(reply.status, { ...endToEndHeaders(reply.headers), 'content-length': reply.body.length });
        res.end(reply.body);
        return;
      }
      upstream = JSON.parse(reply.body.toString('utf8')) as PutRecordsResponse;
      headers = reply.headers;
    }
    const throttled = records.length - accepted;
    sendJson(res, 200, headers, {
      ...upstream,
      FailedRecordCount: upstream.FailedRecordCount + failed + throttled,
      Records: [
        ...Array.from({ length: failed }, () => ({ ErrorCode: failures?.errorCode, ErrorMessage: 'Internal service failure.' })),
        ...upstream.Records,
        ...Array.from({ length: throttled }, () => ({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: kinesisThrottledMessage(streamName) })),
      ],
    });
  }

  private forwardKinesisPut(stream: string, req: IncomingMessage, body: Buffer): Promise<UpstreamReply> {
    const reply = (this.kinesisPuts.get(stream) ?? Promise.resolve()).catch(() => undefined).then(() => this.forward(req, body));
    this.kinesisPuts.set(stream, reply);
    return reply;
  }

  private upstreamRequest(req: IncomingMessage, contentLength?: number) {
    const headers: IncomingHttpHeaders = { ...endToEndHeaders(req.headers), host: this.upstream.host };
    if (contentLength !== undefined) headers['content-length'] = String(contentLength);
    else if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
    else if (req.headers['transfer-encoding']) headers['transfer-encoding'] = req.headers['transfer-encoding'];
    return request(this.upstream, { method: req.method, path: req.url, headers });
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<UpstreamReply> {
    return new Promise((done, fail) => {
      const upstream = this.upstreamRequest(req, body.length);
      upstream.once('error', fail);
      upstream.once('response', (reply) => {
        readBody(reply).then((replyBody) => done({ status: reply.statusCode ?? 502, headers: reply.headers, body: replyBody }), fail);
      });
      upstream.end(body);
    });
  }

  /** Everything but puts (CreateDeliveryStream, S3, ...) goes to moto untouched, streamed. */
  private pipeThrough(req: IncomingMessage, res: ServerResponse): void {
    const upstream = this.upstreamRequest(req);
    upstream.once('response', (reply) => {
      const headers = endToEndHeaders(reply.headers);
      if (reply.headers['content-length']) headers['content-length'] = reply.headers['content-length'];
      res.writeHead(reply.statusCode ?? 502, headers);
      reply.pipe(res);
    });
    upstream.once('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`firehose quota proxy: ${error.message}`);
    });
    req.pipe(upstream);
  }
}

/** How many of a call's records (a prefix, by their sizes) fit what is left of the quota's second. */
function admitWithinQuota(sizes: readonly number[], used: { records: number; bytes: number }, quota: { recordsPerSecond?: number; bytesPerSecond?: number }): { accepted: number; acceptedBytes: number } {
  let accepted = 0;
  let acceptedBytes = 0;
  while (
    accepted < sizes.length &&
    used.records + accepted + 1 <= (quota.recordsPerSecond ?? Infinity) &&
    used.bytes + acceptedBytes + sizes[accepted]! <= (quota.bytesPerSecond ?? Infinity)
  ) {
    acceptedBytes += sizes[accepted]!;
    accepted += 1;
  }
  return { accepted, acceptedBytes };
}
