import { DestinationError, type Destination, type FailureKind, type RecordFailure } from '../../src/destinations/destination';
import type { GatewayEvent } from '../../src/envelope/envelope';

/** Test doubles behind the destination contract. */

/** Takes everything and remembers each batch. */
export class RecordingDestination implements Destination {
  readonly type = 'recording';
  readonly batches: GatewayEvent[][] = [];
  constructor(
    readonly name: string,
    readonly maxRecordBytes = 1_000_000,
  ) {}
  get events(): GatewayEvent[] {
    return this.batches.flat();
  }
  async start(): Promise<void> {}
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    this.batches.push([...events]);
    return [];
  }
  isHealthy(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

/** Fails every send as a whole with the given kind, until `heal()`; it does not know it is failing. */
export class FailingDestination extends RecordingDestination {
  failing = true;
  attempts = 0;
  constructor(
    name: string,
    private readonly kind: FailureKind = 'unavailable',
  ) {
    super(name);
  }
  heal(): void {
    this.failing = false;
  }
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    this.attempts++;
    if (this.failing) throw new DestinationError(this.kind, `${this.name} always fails`);
    return super.send(events);
  }
}

/** Takes the first `perBatch` records of each batch and throttles the rest, per record. */
export class ThrottlingDestination extends RecordingDestination {
  constructor(
    name: string,
    private readonly perBatch: number,
  ) {
    super(name);
  }
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    await super.send(events.slice(0, this.perBatch));
    return events.slice(this.perBatch).map((_, i) => ({ index: this.perBatch + i, kind: 'throttled' as const, message: 'Slow down.' }));
  }
}

/** Holds every send until released: a destination that stopped answering. */
export class BlockedDestination extends RecordingDestination {
  private releases: (() => void)[] = [];
  private unblocked = false;
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    if (!this.unblocked) await new Promise<void>((resolve) => this.releases.push(resolve));
    return super.send(events);
  }
  /** Lets the held sends go, and every later one. */
  unblock(): void {
    this.unblocked = true;
    this.release();
  }
  /** Sends being held. */
  get waiting(): number {
    return this.releases.length;
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}
