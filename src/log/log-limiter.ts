// Some failures can be caused at any rate by anyone (an anonymous beacon, a full disk under
// load). Their reason is logged at most once per interval and key, with how many were not.

export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs: number) {}

  /** Calls `log` unless it ran for `key` within the interval; `suppressed` counts the calls skipped since. */
  run(key: string, log: (suppressed: number) => void, now = Date.now()): void {
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    // Keys are a fixed set per call site; the bound only guards a mistaken caller.
    if (this.last.size > 1000) this.last.clear();
    this.last.set(key, { at: now, suppressed: 0 });
    log(entry?.suppressed ?? 0);
  }
}
