import type { ServerResponse } from 'node:http';
import type { TapBatch } from './event-tap';

// The inspector's live stream: server-sent events to at most `maxSubscribers` pages. Each
// batch is serialised once and written to every page; what a page has not read yet waits in
// its socket's buffer, and a page over `queueBytes` there is dropped (its browser reconnects
// and starts again from now), so a slow reader never makes the gateway's memory grow.

/** A comment line now and then keeps proxies and the browser from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

export interface EventStreamLimits {
  maxSubscribers: number;
  queueBytes: number;
}

export class EventStream {
  private readonly subscribers = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: EventStreamLimits,
    /** Told when the first page comes and the last one goes: the tap runs only in between. */
    private readonly onWatching: (watching: boolean) => void,
    /** Counts a page dropped for reading too slowly. */
    private readonly dropped: { inc(): void },
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  hasRoom(): boolean {
    return this.subscribers.size < this.limits.maxSubscribers;
  }

  /** Takes over `response` as an event stream until the page goes or reads too slowly. */
  subscribe(response: ServerResponse): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    response.write(`retry: 2000\n: ${this.subscribers.size + 1} of ${this.limits.maxSubscribers} subscribers\n\n`);
    this.subscribers.add(response);
    response.once('close', () => this.unsubscribe(response));
    if (this.subscribers.size === 1) {
      this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), HEARTBEAT_MS).unref();
      this.onWatching(true);
    }
  }

  publish(batch: TapBatch): void {
    if (this.subscribers.size === 0) return;
    this.write(`event: events\ndata: ${JSON.stringify(batch)}\n\n`);
  }

  close(): void {
    for (const response of this.subscribers) response.destroy();
  }

  private write(text: string): void {
    for (const response of this.subscribers) {
      if (response.writableLength + text.length > this.limits.queueBytes) {
        this.dropped.inc();
        this.unsubscribe(response);
        response.destroy();
        continue;
      }
      response.write(text);
    }
  }

  private unsubscribe(response: ServerResponse): void {
    if (!this.subscribers.delete(response)) return;
    if (this.subscribers.size === 0) {
      clearInterval(this.heartbeat);
      this.onWatching(false);
    }
  }
}
