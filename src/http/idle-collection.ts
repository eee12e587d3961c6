// Memory that comes back after a burst of large bodies. The bodies and what they inflate to
// are Buffers outside V8's heap, freed only when a garbage collection finds them dead; a
// process that goes quiet after the burst allocates nothing more, so no collection runs and
// it keeps hundreds of MiB of dead Buffers indefinitely (measured: docs/memory.md). Once the
// decode budget has stayed idle for `delayMs` on end after at least `thresholdBytes` were decoded,
// one full collection runs — a few ms on an idle process — and the C allocator can hand
// the pages back. Under steady load it never runs: allocation triggers collections anyway.
// It needs node's --expose-gc (GATEWAY_NODE_FLAGS); without it, it does nothing.

const MiB = 1024 * 1024;

export class IdleCollection {
  private decodedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Collections run, for the metric. */
  runs = 0;

  constructor(
    private readonly collect: (() => void) | undefined = (globalThis as { gc?: () => void }).gc,
    private readonly delayMs = 1000,
    private readonly thresholdBytes = 64 * MiB,
  ) {}

  /** A request held `bytes` while it decoded. */
  decoded(bytes: number): void {
    this.decodedBytes += bytes;
  }

  /** The budget has nothing in flight: collect soon, if enough was decoded since the last time. */
  idle(): void {
    if (this.collect === undefined || this.timer !== undefined || this.decodedBytes < this.thresholdBytes) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.decodedBytes = 0;
      this.runs++;
      this.collect!();
    }, this.delayMs);
    this.timer.unref();
  }

  /**
   * A request started decoding: the quiet moment is over. Under steady load the budget is
   * never idle for `delayMs` on end, so no collection interrupts a busy process.
   */
  active(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
