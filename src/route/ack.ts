/**
 * Waits for a request's events to become durable (delivered, or dead-lettered with the
 * reason). `done` resolves once every event is settled: true when all are durable, false
 * when any was given up.
 */
export class Ack {
  private remaining: number;
  private allDurable = true;
  readonly done: Promise<boolean>;
  private resolve!: (durable: boolean) => void;

  constructor(count: number) {
    this.remaining = count;
    this.done = new Promise((resolve) => (this.resolve = resolve));
    if (count === 0) this.resolve(true);
  }

  settle(durable: boolean): void {
    if (!durable) this.allDurable = false;
    if (--this.remaining === 0) this.resolve(this.allDurable);
  }
}

/** Whether `durable` (an Ack's `done`, or several joined) resolved true within `ms`: what a 2xx waits for. */
export async function durableWithin(durable: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([durable, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
