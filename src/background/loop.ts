import type { DestinationLog } from '../destinations/destination';
import type { GatewayMetrics } from '../metrics/metrics';
import { Backoff } from './backoff';

/**
 * Bounded `task` label values of `background_errors_total`: the core's own tasks, and a
 * destination type's loops, `<type>_<task>` (e.g. `file_s3_shipping`),
 * bounded by the registry's types.
 */
export type BackgroundTask = 'spool_replay' | 'minute_file_sweep' | 'batch_result' | 'torn_tail_repair' | `${string}_reconnect` | `${string}_shipping`;

/** The longest a failing loop waits before its next run. */
const ERROR_BACKOFF_MAX_MS = 30_000;

/**
 * Runs `tick` every `intervalMs`, one run at a time, until stopped. A run that throws never
 * ends the loop (nor the process): the error is counted in `background_errors_total{task}`,
 * logged when it differs from the previous one (a disk that stays broken is one line, not one
 * per run; recovery is logged too), and the next run waits a backoff with jitter instead of
 * the interval.
 */
export class BackgroundLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly backoff: Backoff;
  private lastError: string | undefined;
  private readonly errors;

  constructor(
    private readonly task: BackgroundTask,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly log: DestinationLog,
    metrics: GatewayMetrics,
  ) {
    this.backoff = new Backoff(intervalMs, Math.max(intervalMs, ERROR_BACKOFF_MAX_MS));
    this.errors = metrics.backgroundErrors.labels(task);
  }

  start(): void {
    this.schedule(this.intervalMs);
  }

  /** Stops after the run in progress, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.run().finally(() => (this.running = undefined));
    }, delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    try {
      await this.tick();
    } catch (err) {
      this.errors.inc();
      const message = err instanceof Error ? err.message : String(err);
      const delayMs = this.backoff.next();
      if (message !== this.lastError) {
        this.log.error({ task: this.task, err, failures: this.backoff.failures, retryInMs: Math.round(delayMs) }, `${this.task} failed: ${message}`);
        this.lastError = message;
      }
      this.schedule(delayMs);
      return;
    }
    if (this.lastError !== undefined) {
      this.log.info({ task: this.task, failures: this.backoff.failures }, `${this.task} works again`);
      this.lastError = undefined;
    }
    this.backoff.reset();
    this.schedule(this.intervalMs);
  }
}
