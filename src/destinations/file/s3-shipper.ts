import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { BackgroundLoop } from '../../background/loop';
import { LogLimiter } from '../../log/log-limiter';
import type { GatewayMetrics } from '../../metrics/metrics';
import { DestinationError, type DestinationLog } from '../destination';
import { closesAtMs, FILE_SUFFIX, MINUTE_MS, minuteStamp, parseMinuteFile, type MinuteFileId } from './minute-file-name';
import { minuteFilesUnder, type MinuteFiles } from './minute-files';
import { defaultHostId, type S3Shipping } from './s3-shipping-config';
import type { S3FailureReason, S3ShippingMetrics } from './s3-shipping-metrics';

// Ships each closed minute file to S3, then deletes it (or keeps it a while). What is on disk
// is the queue: every pass walks the folder, so files a previous process left are shipped like
// any other, and a crash between upload and delete only means the same bytes are uploaded
// again, to the same key (the key follows from the file's name and the writer's host id), an
// overwrite with identical content. Content-MD5, computed from the local file, makes S3 refuse
// an upload that was corrupted on the way.

// A single PutObject takes at most 5 GiB; larger objects need a multipart upload, which is not
// built: such a file stays on disk, counted and logged.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html
const MAX_PUT_OBJECT_BYTES = 5 * 1024 ** 3;
/** How often the folder is walked for closed files (and the first pass after start). */
const PASS_INTERVAL_MS = 2_000;
/** How often the reason of a failing upload is logged at most, per reason. */
const LOG_INTERVAL_MS = 10_000;
/** Shipped files kept for keepMinutes live here, a reserved folder the writer and its repair skip. */
const KEPT_DIR = '_s3-shipped';

/** A closed minute file waiting to be shipped. */
interface ClosedFile {
  path: string;
  /** `<service>/<topic>` */
  folder: string;
  id: MinuteFileId;
  closesAt: number;
  bytes: number;
}

/** An upload that failed, with its bounded reason. */
class ShipError extends Error {
  constructor(
    readonly reason: S3FailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'ShipError';
  }
}

export interface S3ShipperOptions {
  /** The destination's name (metric label). */
  name: string;
  root: string;
  settings: S3Shipping;
  files: MinuteFiles;
  metrics: S3ShippingMetrics;
  gatewayMetrics: GatewayMetrics;
  log: DestinationLog;
}

export class S3Shipper {
  private readonly client: S3Client;
  private readonly loop: BackgroundLoop;
  private readonly limiter = new LogLimiter(LOG_INTERVAL_MS);
  private readonly aborting = new AbortController();
  private readonly prefix: string;
  private readonly hostId: string;
  /** Closed files not yet shipped, as of the last pass, less those shipped since. */
  private pending = new Map<string, number>();
  private pendingTotal = 0;
  private lastKeptSweep = 0;

  constructor(private readonly options: S3ShipperOptions) {
    const { settings, name, metrics } = options;
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle ?? settings.endpoint !== undefined,
      // The pass retries, after a backoff, with a fresh read of the file: a stream body cannot
      // be sent twice by the SDK.
      maxAttempts: 1,
      // Content-MD5 is ours; the SDK's own checksum would wrap the stream in aws-chunked encoding.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      // Every failed upload is counted and logged here, with its file and reason; the SDK's own
      // console line about a stream body it cannot retry would only repeat it.
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      requestHandler: { requestTimeout: settings.requestTimeoutMs, connectionTimeout: Math.min(settings.requestTimeoutMs, 10_000) },
    });
    this.prefix = settings.prefix === '' ? '' : `${settings.prefix}/`;
    this.hostId = settings.hostId ?? defaultHostId();
    this.loop = new BackgroundLoop('file_s3_shipping', PASS_INTERVAL_MS, () => this.pass(), options.log, options.gatewayMetrics);
    metrics.pendingFiles.register(name, () => this.pending.size);
    metrics.pendingBytes.register(name, () => this.pendingTotal);
  }

  /** Bytes of closed files waiting for S3. */
  get pendingBytes(): number {
    return this.pendingTotal;
  }

  /** Closed files hold maxPendingBytes: the destination takes no more events until some are shipped. */
  get full(): boolean {
    return this.pendingTotal >= this.options.settings.maxPendingBytes;
  }

  /** Counts and logs events refused while full; the error moves them down the route. */
  refusal(events: number): DestinationError {
    const { metrics, name, log, settings } = this.options;
    const message = `${this.pendingTotal} bytes of closed files wait to be shipped to S3, at least s3.maxPendingBytes (${settings.maxPendingBytes}): no event is written until some are shipped`;
    metrics.refusedEvents.labels(name).inc(events);
    this.limiter.run('pending_full', (suppressed) => log.warn({ destination: name, events, pendingBytes: this.pendingTotal, suppressed }, message));
    return new DestinationError('unavailable', message);
  }

  start(): void {
    this.loop.start();
  }

  /** Stops after the pass in progress; an upload in flight is aborted (its file is shipped at the next start). */
  async stop(): Promise<void> {
    this.aborting.abort();
    await this.loop.stop();
    this.client.destroy();
  }

  /** The object key of a file: `<prefix>/<service>/<topic>/dt=YYYY-MM-DD/hour=HH/<host>-<minute>[-<late minute>].ndjson.gz`. */
  private keyFor(folder: string, id: MinuteFileId): string {
    const iso = new Date(id.minute * MINUTE_MS).toISOString();
    const late = id.lateMinute === undefined ? '' : `-${minuteStamp(id.lateMinute)}`;
    return `${this.prefix}${folder}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${this.hostId}-${minuteStamp(id.minute)}${late}${FILE_SUFFIX}`;
  }

  /** One pass: every closed file, oldest first; throws (the loop backs off) when one failed. */
  private async pass(): Promise<void> {
    const now = Date.now();
    if (this.options.settings.keepMinutes > 0 && now - this.lastKeptSweep >= MINUTE_MS) {
      await this.deleteExpiredKept(now);
      this.lastKeptSweep = now;
    }
    const closed = await this.closedFiles(now);
    this.pending = new Map(closed.map((f) => [f.path, f.bytes]));
    this.pendingTotal = closed.reduce((n, f) => n + f.bytes, 0);
    let failures = 0;
    let firstFailure: ShipError | undefined;
    for (const file of closed) {
      if (this.aborting.signal.aborted) return;
      try {
        await this.ship(file);
      } catch (err) {
        // Shutdown aborted the upload: not a failure, the file ships at the next start.
        if (this.aborting.signal.aborted) return;
        const error = this.toShipError(err);
        failures++;
        firstFailure ??= error;
        this.reportFailure(file, error);
        // A file of its own that cannot go is passed over; anything on S3's side stops the
        // pass, as the next files would only meet it too.
        if (error.reason !== 'local_file' && error.reason !== 'too_large') break;
      }
    }
    if (firstFailure) throw new Error(`shipping minute files to s3://${this.options.settings.bucket} failed (${failures} this pass; ${firstFailure.reason}): ${firstFailure.message}`);
  }

  /** Closed files under the root, oldest first; a file whose name is not a minute file's is left alone. */
  private async closedFiles(now: number): Promise<ClosedFile[]> {
    const { root, settings } = this.options;
    const closed: ClosedFile[] = [];
    for (const path of await minuteFilesUnder(root, true)) {
      const parts = relative(root, path).split(sep);
      if (parts.length !== 4) continue;
      const id = parseMinuteFile(parts[2], parts[3]);
      if (!id) continue;
      const closesAt = closesAtMs(id, settings.graceSeconds * 1000);
      if (closesAt > now) continue;
      const bytes = (await stat(path).catch(() => undefined))?.size;
      if (bytes !== undefined) closed.push({ path, folder: `${parts[0]}/${parts[1]}`, id, closesAt, bytes });
    }
    return closed.sort((a, b) => a.closesAt - b.closesAt || a.path.localeCompare(b.path));
  }

  private async ship(file: ClosedFile): Promise<void> {
    const { files, settings, metrics, name } = this.options;
    // Nothing is appended to it any more; its torn tail, if a crash or a failed write left
    // one, is cut (and counted) so that only acknowledged, whole gzip members are shipped.
    await files.seal(file.path);
    let size: number;
    try {
      size = await files.repairFile(file.path);
    } catch (err) {
      throw new ShipError('local_file', `cannot read ${file.path}: ${(err as Error).message}`);
    }
    if (size > 0) {
      if (size > MAX_PUT_OBJECT_BYTES) throw new ShipError('too_large', `${file.path} holds ${size} bytes, more than one PutObject takes (${MAX_PUT_OBJECT_BYTES})`);
      const md5 = await this.md5Of(file.path, size);
      let etag: string | undefined;
      let encryption: string | undefined;
      const body = createReadStream(file.path, { start: 0, end: size - 1 });
      try {
        ({ ETag: etag, ServerSideEncryption: encryption } = await this.client.send(
          new PutObjectCommand({
            Bucket: settings.bucket,
            Key: this.keyFor(file.folder, file.id),
            Body: body,
            ContentLength: size,
            ContentMD5: md5,
            ContentType: 'application/gzip',
          }),
          // A whole-upload deadline: the handler's requestTimeout only limits an idle socket,
          // and an S3 (or proxy) that keeps the connection open without answering holds an
          // upload, and the pass, for ever otherwise.
          { abortSignal: AbortSignal.any([this.aborting.signal, AbortSignal.timeout(settings.requestTimeoutMs)]) },
        ));
      } finally {
        // A failed or aborted upload may leave the stream, and its file descriptor, open.
        body.destroy();
      }
      // S3 refuses a body that does not match Content-MD5. The ETag it answers is the MD5 of
      // what it stored, except under KMS encryption: where it is one, it must match too (an
      // emulator or a proxy that skipped the check). A mismatch keeps the file; the next try
      // overwrites the object. https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html
      const stored = etag?.replaceAll('"', '');
      const md5Hex = Buffer.from(md5, 'base64').toString('hex');
      if (stored !== undefined && !encryption?.startsWith('aws:kms') && stored !== md5Hex) {
        throw new ShipError('bad_digest', `S3 stored ${file.path} with ETag ${stored}, not the file's MD5 ${md5Hex}`);
      }
      metrics.uploads.labels(name, 'uploaded').inc();
      metrics.uploadedBytes.labels(name).inc(size);
      metrics.uploadLag.labels(name).observe(Math.max(0, Date.now() - ((file.id.lateMinute ?? file.id.minute) + 1) * MINUTE_MS) / 1000);
      await this.release(file.path);
    }
    this.pendingTotal -= this.pending.get(file.path) ?? 0;
    this.pending.delete(file.path);
  }

  /** Deletes a shipped file, or moves it aside for keepMinutes. */
  private async release(path: string): Promise<void> {
    const { root, settings } = this.options;
    try {
      if (settings.keepMinutes === 0) {
        await unlink(path);
        return;
      }
      const kept = join(root, KEPT_DIR, relative(root, path));
      await mkdir(dirname(kept), { recursive: true });
      await rename(path, kept);
      // Its age counts from the upload.
      const now = new Date();
      await utimes(kept, now, now);
    } catch (err) {
      // In S3 already; left here, it is shipped again to the same key at the next pass.
      throw new ShipError('local_file', `uploaded ${path} but could not ${settings.keepMinutes === 0 ? 'delete' : 'move'} it: ${(err as Error).message}`);
    }
  }

  private async deleteExpiredKept(now: number): Promise<void> {
    const before = now - this.options.settings.keepMinutes * MINUTE_MS;
    for (const path of await minuteFilesUnder(join(this.options.root, KEPT_DIR), false)) {
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < before) await unlink(path).catch(() => undefined);
    }
    await removeEmptyFolders(join(this.options.root, KEPT_DIR));
  }

  /** Content-MD5: the base64 MD5 of the first `size` bytes of the file. */
  private async md5Of(path: string, size: number): Promise<string> {
    const hash = createHash('md5');
    try {
      for await (const chunk of createReadStream(path, { start: 0, end: size - 1 })) hash.update(chunk as Buffer);
    } catch (err) {
      throw new ShipError('local_file', `cannot read ${path}: ${(err as Error).message}`);
    }
    return hash.digest('base64');
  }

  private toShipError(err: unknown): ShipError {
    if (err instanceof ShipError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const name = err instanceof Error ? err.name : '';
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode ?? 0;
      if (err.name === 'NoSuchBucket') return new ShipError('no_bucket', `${err.name}: ${message}`);
      if (err.name === 'BadDigest' || err.name === 'InvalidDigest') return new ShipError('bad_digest', `${err.name}: ${message}`);
      if (status === 503 || err.name === 'SlowDown') return new ShipError('throttled', `${err.name}: ${message}`);
      if (status === 403) return new ShipError('access_denied', `${err.name}: ${message}`);
      if (status >= 500) return new ShipError('server_error', `${err.name} (HTTP ${status}): ${message}`);
      if (status >= 400) return new ShipError('client_error', `${err.name} (HTTP ${status}): ${message}`);
    }
    if (name === 'TimeoutError' || name === 'AbortError' || /timeout/i.test(message)) return new ShipError('timeout', message);
    return new ShipError('network', message);
  }

  private reportFailure(file: ClosedFile, error: ShipError): void {
    const { metrics, name, log, settings } = this.options;
    metrics.uploads.labels(name, 'failed').inc();
    metrics.uploadFailures.labels(name, error.reason).inc();
    this.limiter.run(error.reason, (suppressed) =>
      log.error({ destination: name, file: file.path, bucket: settings.bucket, reason: error.reason, suppressed }, `shipping ${file.path} to S3 failed (${error.reason}): ${error.message}; it stays on disk and is tried again`),
    );
  }
}

/** Removes the folders under `root` that are left empty (the kept files' dates), keeping `root`. */
async function removeEmptyFolders(root: string): Promise<boolean> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return false;
  let empty = true;
  for (const entry of entries) {
    if (!entry.isDirectory() || !(await removeEmptyFolders(join(root, entry.name)))) {
      empty = false;
      continue;
    }
    await rmdir(join(root, entry.name)).catch(() => (empty = false));
  }
  return empty;
}
