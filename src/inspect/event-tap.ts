import type { GatewayEvent } from '../envelope/envelope';
import type { FieldProblem } from '../topics/avro-normalizer';

// What the inspector sees of the pipeline: accepted and refused events, as ingest decides
// them. Ingest asks `watching` (a plain boolean) before it builds anything, so with no page
// open the tap costs one property read per request. While someone watches, views leave in
// batches every FLUSH_MS; what a batch cannot hold is counted, not queued.
//
// A view holds only what the envelope keeps: the client IP as the envelope stored it (none,
// anonymised or full, per envelope.clientIp), never a request header (a key never enters).

/** How often views leave for the subscribers (or the cluster's primary). */
export const FLUSH_MS = 100;
/** Views per flush, at most (10,000/s): a load test does not become a copy of itself in memory. */
export const MAX_VIEWS_PER_FLUSH = 1_000;
/** Views one request contributes, at most: a batch of 10,000 shows its first ones. */
export const MAX_VIEWS_PER_REQUEST = 50;
/** A view's `data` longer than this (JSON text) is shown cut. */
export const MAX_VIEW_DATA_CHARS = 8_192;

export type InspectedOutcome = 'accepted' | 'invalid' | 'too_large';

export interface InspectedEvent {
  /** ms since the epoch the gateway decided. */
  at: number;
  worker?: number;
  outcome: InspectedOutcome;
  service: string;
  topic: string;
  version: number;
  source: string;
  /** Index in its request. */
  index: number;
  /** CloudEvents attributes of an accepted event. */
  envelope?: Record<string, string>;
  /** The validated data (accepted) or what the client sent (refused). */
  data: unknown;
  /** Set when `data` was too long to show whole: the first characters of its JSON text. */
  dataCut?: string;
  errors?: readonly FieldProblem[];
}

export interface TapBatch {
  events: InspectedEvent[];
  /** Views left out since the last batch (flush or per-request bound). */
  omitted: number;
}

export class EventTap {
  /** Read on the hot path: true only while some page watches. */
  watching = false;
  private pending: InspectedEvent[] = [];
  private omitted = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: (batch: TapBatch) => void,
    private readonly worker?: number,
  ) {}

  setWatching(watching: boolean): void {
    this.watching = watching;
    if (!watching) {
      this.pending = [];
      this.omitted = 0;
    }
  }

  accepted(events: readonly GatewayEvent[]): void {
    const shown = Math.min(events.length, MAX_VIEWS_PER_REQUEST);
    for (let i = 0; i < shown; i++) {
      const e = events[i];
      const envelope: Record<string, string> = { id: e.id, receivedtime: new Date(e.receivedAt).toISOString(), type: e.schema.cloudEventType, dataschema: e.schema.dataschema };
      if (e.eventTime !== undefined) envelope.time = new Date(e.eventTime).toISOString();
      if (e.clientIp !== undefined) envelope.clientip = e.clientIp;
      if (e.userAgent !== undefined) envelope.useragent = e.userAgent;
      this.add({ at: e.receivedAt, outcome: 'accepted', service: e.schema.service, topic: e.schema.topic, version: e.schema.version, source: e.source, index: i, envelope, data: e.data }, e.schema.jsonReplacer);
    }
    this.omitted += events.length - shown;
  }

  refused(view: Omit<InspectedEvent, 'at' | 'data' | 'dataCut'> & { input: unknown }): void {
    const { input, ...rest } = view;
    this.add({ ...rest, at: Date.now(), data: input });
  }

  /** Views of one request beyond MAX_VIEWS_PER_REQUEST, counted. */
  omit(count: number): void {
    this.omitted += count;
  }

  /** `replacer`: the schema's (longs and bytes as JSON); the view's data leaves as plain JSON. */
  private add(view: InspectedEvent, replacer?: (key: string, value: unknown) => unknown): void {
    if (this.pending.length >= MAX_VIEWS_PER_FLUSH) {
      this.omitted++;
      return;
    }
    if (this.worker !== undefined) view.worker = this.worker;
    let text: string | undefined;
    try {
      text = JSON.stringify(view.data, replacer);
    } catch {
      text = '"[not serialisable]"';
    }
    if (text !== undefined && text.length > MAX_VIEW_DATA_CHARS) {
      view.dataCut = text.slice(0, MAX_VIEW_DATA_CHARS);
      view.data = undefined;
    } else if (replacer !== undefined && text !== undefined) view.data = JSON.parse(text);
    this.pending.push(view);
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  private flush(): void {
    this.timer = undefined;
    const batch = { events: this.pending, omitted: this.omitted };
    this.pending = [];
    this.omitted = 0;
    if (this.watching && (batch.events.length > 0 || batch.omitted > 0)) this.sink(batch);
  }
}
