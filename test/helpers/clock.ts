import { mock } from 'node:test';
import type { Test } from 'tap';

// A wall clock a test can move: `Date` (and only Date: timers stay real) runs on from a chosen
// time at the real pace, and `jump` moves it. Minute files are named and closed by receive
// time, so a test reaches "two minutes later, past the grace" without waiting for it.

export class MovableClock {
  private base = 0;
  private startedAt = 0;
  private readonly ticker: NodeJS.Timeout;

  constructor(t: Test, now: number) {
    mock.timers.enable({ apis: ['Date'], now });
    this.jump(now);
    // Date is frozen between setTime calls; this keeps it running.
    // Whole milliseconds, as the real Date.now(): a client that turns it into a BigInt (Kafka's timestamps) would throw.
    this.ticker = setInterval(() => mock.timers.setTime(Math.round(this.base + performance.now() - this.startedAt)), 20);
    t.teardown(() => this.restore());
  }

  /** Back to the real clock (also when the test ends). */
  restore(): void {
    clearInterval(this.ticker);
    mock.timers.reset();
  }

  /** Sets the clock to `now` (ms since the epoch); it runs on from there. */
  jump(now: number): void {
    this.base = now;
    this.startedAt = performance.now();
    mock.timers.setTime(now);
  }
}

/** Polls `condition` every `stepMs` (real time) until it holds; fails naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, stepMs = 100): Promise<void> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
