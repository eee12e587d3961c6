import type { BatchConfig } from '../destinations/destination-type';
import { toDestinationError, wholeBatchFailure, type Destination, type DestinationError, type DestinationLog, type RecordFailure } from '../destinations/destination';
import type { GatewayEvent } from '../envelope/envelope';
import type { GatewayMetrics } from '../metrics/metrics';

/**
 * A send's outcome: per-record failures (none: all delivered), or the whole batch failed. A
 * list that names every record with one retryable kind arrives as the whole-batch failure
 * (destination.ts): the route sees each outcome in one form only.
 */
export type BatchResult = RecordFailure[] | DestinationError;

/**
 * Collects events for one destination and sends them in batches: a batch leaves when it
 * reaches `maxRecords` or `maxBytes`, or `lingerMs` after its first event, whichever comes
 * first. At most `maxInFlight` sends run at once; what arrives meanwhile forms the next
 * batch and leaves as soon as a send completes (group commit). `Item`: what the caller keeps
 * with each event (the route keeps where the event is on its route); handed back with the result.
 */
export class Batcher<Item extends { readonly event: GatewayEvent }> {
  private pending: Item[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  // Label children resolved once: per batch, resolving labels would cost more than observing.
  private readonly batchRecords;
  private readonly batchBytes;
  private readonly sendDuration;
  private readonly resultErrors;

  constructor(
    readonly destination: Destination,
    private readonly config: BatchConfig,
    private readonly onResult: (batcher: Batcher<Item>, items: Item[], result: BatchResult) => void,
    metrics: GatewayMetrics,
    private readonly log: DestinationLog,
  ) {
    this.batchRecords = metrics.batchRecords.labels(destination.name);
    this.batchBytes = metrics.batchBytes.labels(destination.name);
    this.sendDuration = metrics.destinationSendDuration.labels(destination.name);
    this.resultErrors = metrics.backgroundErrors.labels('batch_result');
  }

  get queuedRecords(): number {
    return this.pending.length;
  }

  add(item: Item): void {
    this.pending.push(item);
    this.pendingBytes += item.event.size;
    if (this.pending.length >= this.config.maxRecords || this.pendingBytes >= this.config.maxBytes) {
      this.flush();
    } else if (this.timer === undefined && this.inFlight < this.config.maxInFlight) {
      this.timer = setTimeout(() => this.flush(), this.config.lingerMs);
    }
  }

  /** Starts as many sends as `maxInFlight` allows with what is waiting. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.inFlight < this.config.maxInFlight && this.pending.length > 0) {
      this.send(this.takeBatch());
    }
  }

  /** Flushes everything and resolves when no send is in flight and nothing waits. */
  async drain(): Promise<void> {
    this.flush();
    if (this.inFlight === 0 && this.pending.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private takeBatch(): Item[] {
    let count = 0;
    let bytes = 0;
    while (count < this.pending.length && count < this.config.maxRecords) {
      const size = this.pending[count].event.size;
      if (count > 0 && bytes + size > this.config.maxBytes) break;
      bytes += size;
      count++;
    }
    const batch = count === this.pending.length ? this.pending : this.pending.slice(0, count);
    this.pending = count === this.pending.length ? [] : this.pending.slice(count);
    this.pendingBytes -= bytes;
    this.batchRecords.observe(count);
    this.batchBytes.observe(bytes);
    return batch;
  }

  private send(batch: Item[]): void {
    this.inFlight++;
    const stopTimer = this.sendDuration.startTimer();
    const events = batch.map((item) => item.event);
    let sending: Promise<RecordFailure[]>;
    try {
      sending = this.destination.send(events);
    } catch (err) {
      // A send that throws instead of rejecting is the same failure.
      sending = Promise.reject(err);
    }
    sending.then(
      (failures) => this.complete(batch, wholeBatchFailure(failures, batch.length) ?? failures, stopTimer),
      (err) => this.complete(batch, toDestinationError(err), stopTimer),
    );
  }

  private complete(batch: Item[], result: BatchResult, stopTimer: () => void): void {
    stopTimer();
    this.inFlight--;
    try {
      this.onResult(this, batch, result);
    } catch (err) {
      // A bug in handling the result must not end the process nor stop this batcher; it is
      // counted and logged with what would let someone find it.
      this.resultErrors.inc();
      this.log.error({ task: 'batch_result', destination: this.destination.name, records: batch.length, err }, `handling a batch result of ${this.destination.name} failed`);
    }
    if (this.pending.length > 0) this.flush();
    if (this.inFlight === 0 && this.pending.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
