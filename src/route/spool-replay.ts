import { Backoff } from '../background/backoff';
import { BackgroundLoop } from '../background/loop';
import type { MemoryBudget } from '../buffer/memory-budget';
import type { DeadLetter } from '../destinations/dead-letter/dead-letter';
import type { DestinationLog } from '../destinations/destination';
import { decodeSpoolEntry } from '../destinations/spool/spool-entry';
import type { Spool } from '../destinations/spool/spool';
import type { GatewayEvent } from '../envelope/envelope';
import type { GatewayMetrics } from '../metrics/metrics';
import type { TopicRegistry } from '../topics/registry';
import type { Route } from './route';
import type { Router } from './router';

/** How often replay looks at the spool and at the chain's room, and how many events it holds at once. */
const REPLAY_INTERVAL_MS = 1_000;
const REPLAY_CHUNK = 500;
/** A segment that cannot be read is tried again after this, doubling (with jitter) up to the max. */
const UNREADABLE_RETRY_MIN_MS = 1_000;
const UNREADABLE_RETRY_MAX_MS = 5 * 60_000;

/** A spooled event and the index, in its topic's routes, of one route it waits for. */
interface Waiting {
  event: GatewayEvent;
  route: number;
}

interface SegmentInReplay {
  path: string;
  payloads: Buffer[];
  /** Index of the first payload not yet taken into `waiting`. */
  next: number;
}

/**
 * Hands spooled events back to the head of the routes they were spooled for (and only those:
 * the routes that delivered them have them already), oldest segment first, at the pace the
 * chain has room for. Before each hand-over it asks the route how many events its hops before
 * the spool take now (their learned rates or quotas, a probe batch for a hop that is down), so
 * that when every hop is throttled or down, replay waits rather than pushing events through
 * every hop. An event that no hop takes after all is handed back, never spooled again: it is
 * still in its segment, and replay offers it again on a later tick. A segment is deleted only
 * when each of its events is delivered (or dead-lettered), so a crash during replay repeats
 * events (at least once) but never loses one.
 *
 * Replay runs as a BackgroundLoop: an error ends a tick, never the process. A segment that
 * cannot be read (an I/O error) is logged with its path, counted, and tried again after a
 * backoff while the segments after it go on.
 */
export class SpoolReplay {
  private readonly loop: BackgroundLoop;
  private stopped = false;
  private segment: SegmentInReplay | undefined;
  /** Events taken from the segment and not yet delivered, once per route each waits for: at most one chunk. */
  private waiting: Waiting[] = [];
  private readonly unreadable = new Map<string, { backoff: Backoff; retryAt: number; code: string | undefined }>();

  constructor(
    private readonly spool: Spool,
    private readonly registry: TopicRegistry,
    private readonly router: Router,
    private readonly budget: MemoryBudget,
    private readonly deadLetter: DeadLetter,
    private readonly metrics: GatewayMetrics,
    private readonly log: DestinationLog,
  ) {
    this.loop = new BackgroundLoop('spool_replay', REPLAY_INTERVAL_MS, () => this.replay(), log, metrics);
  }

  start(): void {
    this.loop.start();
  }

  /** Stops after the hand-over in progress; what is left stays in the spool for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
  }

  /** One tick: hands over as much as the chain has room for, then waits for the next. */
  private async replay(): Promise<void> {
    while (!this.stopped) {
      if (this.waiting.length > 0) {
        // Went on at once while the chain takes all it is handed; waits for the next tick when
        // it has no room (or memory) or handed some back.
        if (!(await this.handOver())) return;
        continue;
      }
      if (this.segment && this.segment.next >= this.segment.payloads.length) {
        await this.spool.remove(this.segment.path);
        this.segment = undefined;
      }
      if (!this.segment && !(await this.openNextSegment())) return;
      // An unreadable segment opens nothing: the next one is tried, not a chunk of none.
      if (this.segment) await this.takeChunk(this.segment);
    }
  }

  /** Reads the oldest segment replay may read now; false when there is none, or no room to replay into. */
  private async openNextSegment(): Promise<boolean> {
    if (!this.router.hasReplayRoom(Date.now())) return false;
    const now = Date.now();
    const next = await this.spool.nextForReplay((path) => (this.unreadable.get(path)?.retryAt ?? 0) > now);
    if (!next) return false;
    let payloads: Buffer[];
    try {
      payloads = await this.spool.readSegment(next.path);
    } catch (err) {
      this.onUnreadable(next.path, err as NodeJS.ErrnoException);
      return true; // the segments after it go on
    }
    if (this.unreadable.delete(next.path)) this.log.info({ file: next.path }, `spool segment ${next.path} is readable again`);
    this.segment = { path: next.path, payloads, next: 0 };
    return true;
  }

  /** Decodes the next chunk of the segment into `waiting`; entries that cannot be rebuilt go to the dead letter. */
  private async takeChunk(segment: SegmentInReplay): Promise<void> {
    const payloads = segment.payloads.slice(segment.next, segment.next + REPLAY_CHUNK);
    const unreadable: { message: string; payload: Buffer }[] = [];
    for (const payload of payloads) {
      const event = decodeSpoolEntry(payload, this.registry);
      if (event instanceof Error) {
        unreadable.push({ message: event.message, payload });
        continue;
      }
      const routes = this.router.routesFor(this.registry.get(event.schema.service, event.schema.topic)!);
      for (const route of event.routes!) {
        // The topic lost routes since (a deployment changed its config): nowhere to send it, so it is kept in the dead letter.
        if (route >= routes.length) unreadable.push({ message: `${event.schema.service}/${event.schema.topic} has no route ${route} any more (it has ${routes.length})`, payload });
        else this.waiting.push({ event, route });
      }
    }
    if (unreadable.length > 0) await this.deadLetterUnreadable(unreadable);
    segment.next += payloads.length;
  }

  /**
   * Hands the waiting events that their routes have room for (and memory, within the bound) to
   * the router and waits until each is delivered, dead-lettered or handed back; what is left
   * waits in `waiting`. True when some were handed over and none came back.
   */
  private async handOver(): Promise<boolean> {
    const now = Date.now();
    const rooms = new Map<Route, number>();
    const groups = new Map<Route, GatewayEvent[]>();
    const left: Waiting[] = [];
    let bytes = 0;
    // Replay takes at most half of the memory left, so that live requests are not refused for it.
    const allowance = (this.budget.limitBytes - this.budget.usedBytes) / 2;
    for (const waiting of this.waiting) {
      const { event } = waiting;
      const route = this.router.routesFor(this.registry.get(event.schema.service, event.schema.topic)!)[waiting.route];
      let room = rooms.get(route);
      if (room === undefined) rooms.set(route, (room = this.router.replayRoom(route, now)));
      let group = groups.get(route);
      if (!group) groups.set(route, (group = []));
      if (group.length >= room || bytes + event.size > allowance) {
        left.push(waiting);
      } else {
        group.push(event);
        bytes += event.size;
      }
    }
    if (bytes === 0 || !this.budget.tryReserve(bytes)) return false;
    this.waiting = left;
    let givenBack = 0;
    const acks = [...groups]
      .filter(([, events]) => events.length > 0)
      .map(async ([route, events]) => {
        let back = 0;
        await this.router.replay(events, route, (event) => (back++, this.waiting.push({ event, route: route.index }))).done;
        givenBack += back;
        // Counted once the route took them: an event handed back is offered again, and counted then.
        if (events.length > back) this.metrics.routeEvents.labels(route.label, 'replayed').inc(events.length - back);
      });
    this.metrics.spoolReplayedRecords.inc([...groups.values()].reduce((n, events) => n + events.length, 0));
    await Promise.all(acks);
    return givenBack === 0;
  }

  /** Logs (once per segment and error code), counts, and sets when to try the segment again. */
  private onUnreadable(path: string, err: NodeJS.ErrnoException): void {
    let entry = this.unreadable.get(path);
    if (!entry) this.unreadable.set(path, (entry = { backoff: new Backoff(UNREADABLE_RETRY_MIN_MS, UNREADABLE_RETRY_MAX_MS), retryAt: 0, code: undefined }));
    const delay = entry.backoff.next();
    entry.retryAt = Date.now() + delay;
    this.metrics.backgroundErrors.labels('spool_replay').inc();
    if (entry.code !== (err.code ?? err.message)) {
      entry.code = err.code ?? err.message;
      this.log.error(
        { task: 'spool_replay', file: path, code: err.code, err, retryInMs: Math.round(delay) },
        `spool replay cannot read ${path}: ${err.message}; its events stay in the spool, the segments after it go on`,
      );
    }
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
