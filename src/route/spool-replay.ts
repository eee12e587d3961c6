import type { MemoryBudget } from '../buffer/memory-budget';
import type { DeadLetter } from '../destinations/dead-letter/dead-letter';
import { decodeSpoolEntry } from '../destinations/spool/spool-entry';
import type { Spool } from '../destinations/spool/spool';
import type { GatewayEvent } from '../envelope/envelope';
import type { GatewayMetrics } from '../metrics/metrics';
import type { TopicRegistry } from '../topics/registry';
import type { Router } from './router';

/** How often the spool is looked at, and how many events go back at once. */
const REPLAY_INTERVAL_MS = 1_000;
const REPLAY_CHUNK = 500;

/**
 * Hands spooled events back to the head of their route once that destination is up again,
 * oldest segment first, a chunk at a time within the memory bound. When the chain cannot take
 * a whole chunk (some of it lands in the spool again) replay waits for the next tick, so it
 * goes at the pace of the chain's spare capacity. A segment is
 * deleted only when each of its events is settled again — delivered, or spooled anew if the
 * chain failed once more — so a crash during replay repeats events (at-least-once) but never
 * loses one.
 */
export class SpoolReplay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Events of the current segment already handed back, so a pause resumes where it was. */
  private progress = { path: '', next: 0 };

  constructor(
    private readonly spool: Spool,
    private readonly registry: TopicRegistry,
    private readonly router: Router,
    private readonly budget: MemoryBudget,
    private readonly deadLetter: DeadLetter,
    private readonly metrics: GatewayMetrics,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.replay().finally(() => (this.running = undefined));
    }, REPLAY_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops after the chunk in progress; what is left stays in the spool for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async replay(): Promise<void> {
    while (!this.stopped) {
      const segment = await this.spool.nextForReplay();
      if (!segment) return;
      if (this.progress.path !== segment.path) this.progress = { path: segment.path, next: 0 };
      const payloads = await this.spool.readSegment(segment.path);
      while (this.progress.next < payloads.length) {
        if (this.stopped) return;
        const chunk = payloads.slice(this.progress.next, this.progress.next + REPLAY_CHUNK);
        const appendedBefore = this.spool.appended;
        if (!(await this.replayChunk(chunk))) return; // not now: the head is down or memory is short
        this.progress.next += chunk.length;
        if (this.spool.appended > appendedBefore) break; // the chain overflowed: go on next tick
      }
      if (this.progress.next < payloads.length) return;
      await this.spool.remove(segment.path);
    }
  }

  /** Resolves false, handing nothing back, when the chunk's routes cannot take it now. */
  private async replayChunk(payloads: Buffer[]): Promise<boolean> {
    const byTopic = new Map<string, GatewayEvent[]>();
    const unreadable: { message: string; payload: Buffer }[] = [];
    for (const payload of payloads) {
      const event = decodeSpoolEntry(payload, this.registry);
      if (event instanceof Error) {
        unreadable.push({ message: event.message, payload });
        continue;
      }
      const key = `${event.schema.service}/${event.schema.topic}`;
      let list = byTopic.get(key);
      if (!list) byTopic.set(key, (list = []));
      list.push(event);
    }
    const groups = [...byTopic.values()].map((events) => ({ events, route: this.router.routeFor(this.registry.get(events[0].schema.service, events[0].schema.topic)!) }));
    if (!groups.every((g) => this.router.isHeadUp(g.route))) return false;
    const bytes = groups.reduce((sum, g) => sum + g.events.reduce((s, e) => s + e.size, 0), 0);
    if (!this.budget.tryReserve(bytes)) return false;

    if (unreadable.length > 0) await this.deadLetterUnreadable(unreadable);
    const acks = groups.map((g) => this.router.submit(g.events, g.route, true)!.done);
    this.metrics.spoolReplayedRecords.inc(groups.reduce((n, g) => n + g.events.length, 0));
    await Promise.all(acks);
    return true;
  }

  private async deadLetterUnreadable(items: { message: string; payload: Buffer }[]): Promise<void> {
    await this.deadLetter.write(
      items.map(({ message, payload }) => ({
        reason: 'malformed' as const,
        message: `spool replay: ${message}`,
        service: '_spool',
        topic: '_unreadable',
        receivedAt: Date.now(),
        source: 'spool',
        payload: payload.toString('utf8'),
      })),
    );
  }
}
