import { setImmediate } from 'node:timers/promises';
import type { GatewayConfig } from '../config/config';
import type { MemoryBudget } from '../buffer/memory-budget';
import type { DeadLetter, DeadLetterRecord } from '../destinations/dead-letter/dead-letter';
import type { Spool } from '../destinations/spool/spool';
import { anonymizeIp, clientEventId, clientEventTime, newEventId, type GatewayEvent } from '../envelope/envelope';
import { GatewayError, type EventError } from '../errors';
import type { GatewayMetrics } from '../metrics/metrics';
import type { Route } from '../route/route';
import type { Router } from '../route/router';
import { NormalizeContext, type FieldProblem } from '../topics/avro-normalizer';
import type { Topic, TopicVersion } from '../topics/registry';
import { MAX_VIEWS_PER_REQUEST, type EventTap } from '../inspect/event-tap';

// Turns decoded request input into accepted events: validate each against its schema
// version, build the envelope, reserve memory, hand them to the topic's route, count.

/** What the envelope adds to an event's size in memory and on the wire, roughly. */
const ENVELOPE_OVERHEAD_BYTES = 320;

export interface IngestRequest {
  topic: Topic;
  version: TopicVersion;
  /** Decoded events: JSON-shaped objects, or values already in the schema's shape (Avro input). */
  events: unknown[];
  /** Values came from an Avro decoder and are valid by construction. */
  prevalidated: boolean;
  /** Each event's Avro datum in `version` as the client sent it (Avro input), for Kafka to reuse. */
  datums?: readonly Buffer[];
  /** Body bytes, to estimate event sizes without serialising them again. */
  bodyBytes: number;
  /**
   * `beacon`: invalid events are dead-lettered, the client is answered as always. `replay`:
   * dead letters re-driven (src/ingest/dead-letter-redrive.ts), partial, durable like a
   * service request; what is still invalid is reported, neither counted as a new refusal
   * nor dead-lettered again (it is still in the dead letter).
   */
  mode: 'beacon' | 'service' | 'replay';
  /** Service mode: accept the valid events of a batch with invalid ones. */
  partial: boolean;
  /** Service mode, partial: invalid events are also written to the dead letter (beacons always are). */
  deadLetterInvalid?: boolean;
  source: string;
  clientIp: string;
  userAgent: string | undefined;
}

export interface IngestResult {
  accepted: number;
  /** Events not accepted (partial acceptance). */
  rejected: number;
  /** Problems of the events not accepted, at most `server.maxErrorsReturned`. */
  errors: EventError[];
  /** Problems left out of `errors` by that cap. */
  moreErrors: number;
  /** Resolves once accepted events are durable (service mode). */
  durable?: Promise<boolean>;
}

export interface CheckedEvent {
  data?: unknown;
  id?: string;
  time?: number;
  list: readonly FieldProblem[];
}

const NO_PROBLEMS: readonly FieldProblem[] = Object.freeze([]);

/**
 * Events checked in one turn of the event loop. A batch of 10,000 takes some milliseconds
 * to validate; between slices, other requests (a pixel) are answered.
 */
export const EVENTS_PER_SLICE = 500;

/** One request on its way through `accept`: what has been checked so far. */
interface Acceptance {
  req: IngestRequest;
  receivedAt: number;
  measureEach: boolean;
  averageSize: number;
  errors: EventError[];
  moreErrors: number;
  deadLetters: DeadLetterRecord[];
  events: GatewayEvent[];
  invalid: number;
  tooLarge: number;
  /** Indexes of the events over the topic's maxEventBytes (for the inspector). */
  tooLargeAt?: number[];
  totalBytes: number;
}

/** The events, each naming every one of `count` routes, for the spool to record. */
function forRoutes(events: GatewayEvent[], count: number): GatewayEvent[] {
  const all = Array.from({ length: count }, (_, i) => i);
  return events.map((event) => ({ ...event, routes: all }));
}

export class Ingest {
  constructor(
    private readonly config: Readonly<GatewayConfig>,
    private readonly router: Router,
    private readonly budget: MemoryBudget,
    private readonly deadLetter: DeadLetter,
    private readonly spool: Spool | undefined,
    private readonly metrics: GatewayMetrics,
    /** The inspector's; ingest only asks whether it is `watching`, unless it is. */
    private readonly tap?: EventTap,
  ) {}

  /** Checks and accepts a request's events in one turn: for requests of one slice or less (a pixel). */
  accept(req: IngestRequest): IngestResult {
    const state = this.begin(req);
    this.check(state, 0, req.events.length);
    return this.finish(state);
  }

  /** The same, for a batch of any size: checks it slice by slice, yielding the event loop between. */
  async acceptBatch(req: IngestRequest): Promise<IngestResult> {
    const state = this.begin(req);
    const count = req.events.length;
    for (let from = 0; from < count; from += EVENTS_PER_SLICE) {
      if (from > 0) await setImmediate();
      this.check(state, from, Math.min(count, from + EVENTS_PER_SLICE));
    }
    return this.finish(state);
  }

  /** The decoders have bounded the event count (server.maxEventsPerRequest) before allocating. */
  private begin(req: IngestRequest): Acceptance {
    return {
      req,
      receivedAt: Date.now(),
      // Only a body larger than the topic's limit can hold an event over it; measure only then.
      measureEach: req.bodyBytes > req.topic.config.maxEventBytes,
      averageSize: Math.ceil(req.bodyBytes / Math.max(req.events.length, 1)) + ENVELOPE_OVERHEAD_BYTES,
      errors: [],
      moreErrors: 0,
      deadLetters: [],
      events: [],
      invalid: 0,
      tooLarge: 0,
      totalBytes: 0,
    };
  }

  private check(state: Acceptance, from: number, to: number): void {
    const { req, receivedAt } = state;
    const { topic, version, events: raw } = req;
    const maxEventBytes = topic.config.maxEventBytes;
    const maxErrors = this.config.server.maxErrorsReturned;
    for (let index = from; index < to; index++) {
      const input = raw[index] as Record<string, unknown>;
      // Decoded Avro is valid by construction: no check, and no problem list allocated.
      const problems = req.prevalidated ? { data: input, list: NO_PROBLEMS } : checkEventInput(input, version);
      const data = problems.data;
      let size = state.averageSize;
      let isTooLarge = false;
      if (problems.list.length === 0 && state.measureEach) {
        const bytes = Buffer.byteLength(version.toJson(data));
        if (bytes > maxEventBytes) {
          isTooLarge = true;
          state.tooLarge++;
          (state.tooLargeAt ??= []).push(index);
          problems.list = [{ path: '', message: `event is ${bytes} bytes; topic ${topic.service}/${topic.name} takes at most ${maxEventBytes}` }];
        }
        size = bytes + ENVELOPE_OVERHEAD_BYTES;
      }
      if (problems.list.length > 0) {
        if (!isTooLarge) state.invalid++;
        for (const p of problems.list) {
          if (state.errors.length < maxErrors) state.errors.push({ index, path: p.path, message: p.message });
          else state.moreErrors++;
        }
        if (req.mode === 'beacon' || req.deadLetterInvalid) {
          state.deadLetters.push({
            reason: isTooLarge ? 'event_too_large' : 'invalid',
            message: problems.list.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; '),
            service: topic.service,
            topic: topic.name,
            version: version.version,
            receivedAt,
            source: req.source,
            errors: problems.list,
            payload: input,
          });
        }
        continue;
      }
      const event: GatewayEvent = {
        id: problems.id ?? newEventId(),
        schema: version,
        source: req.source,
        receivedAt,
        eventTime: problems.time,
        data: data as Record<string, unknown>,
        size,
      };
      if (req.datums) event.datum = req.datums[index];
      // Re-driven dead letters carry no client address ('').
      if (this.config.envelope.clientIp !== 'none' && req.clientIp !== '') {
        event.clientIp = this.config.envelope.clientIp === 'full' ? req.clientIp : anonymizeIp(req.clientIp);
      }
      if (this.config.envelope.userAgent && req.userAgent !== undefined) event.userAgent = req.userAgent;
      const partitionKey = topic.config.partitionKey;
      if (partitionKey !== undefined) event.key = String((data as Record<string, unknown>)[partitionKey]);
      state.events.push(event);
      state.totalBytes += size;
    }
  }

  private finish(state: Acceptance): IngestResult {
    const { req, events, errors, invalid, tooLarge, receivedAt } = state;
    const { topic, version } = req;
    const service = topic.service;
    const name = topic.name;
    const versionLabel = String(version.version);
    const rejected = invalid + tooLarge;
    if (rejected > 0 && this.tap?.watching) this.showRefused(state);
    if (rejected > 0 && req.mode === 'service') {
      if (invalid > 0) this.metrics.events.labels(service, name, versionLabel, 'invalid').inc(invalid);
      if (invalid > 0) this.metrics.eventsRejected.labels(service, name, 'invalid').inc(invalid);
      if (tooLarge > 0) {
        this.metrics.events.labels(service, name, versionLabel, 'rejected').inc(tooLarge);
        this.metrics.eventsRejected.labels(service, name, 'event_too_large').inc(tooLarge);
      }
      if (!req.partial) {
        this.reject(topic, versionLabel, events.length, 'invalid');
        const onlyTooLarge = invalid === 0;
        throw new GatewayError(
          onlyTooLarge ? 'EVENT_TOO_LARGE' : 'INVALID_EVENTS',
          `${rejected} of ${req.events.length} events ${onlyTooLarge ? 'too large' : 'invalid'}; nothing was accepted (send ?partial=true to accept the valid ones)`,
          { events: errors, moreErrors: state.moreErrors, counted: true },
        );
      }
    }
    // The browser is answered as always; the reason is kept (or its loss counted), not lost silently.
    if (state.deadLetters.length > 0) void this.deadLetter.write(state.deadLetters);
    const result: IngestResult = { accepted: events.length, rejected, errors, moreErrors: state.moreErrors };
    if (events.length === 0) return result;

    const routes = this.router.routesFor(topic);
    // Each route holds its own copy of the events until it has delivered or spooled them.
    if (!this.budget.tryReserve(state.totalBytes * routes.length)) {
      // Beacons under memory pressure go straight to the disk spool rather than being dropped:
      // one entry each, for all of the topic's routes.
      if (req.mode === 'beacon' && this.spool?.hasRoomFor(state.totalBytes)) {
        this.spillToSpool(routes.length === 1 ? events : forRoutes(events, routes.length), version, routes);
        return result;
      }
      this.reject(topic, versionLabel, events.length, 'overloaded');
      throw new GatewayError('OVERLOADED', 'the gateway is holding as many undelivered events as its memory bound allows; retry later', {
        retryAfterSeconds: this.config.server.retryAfterSeconds,
        counted: true,
      });
    }
    this.countAccepted(version, events.length);
    this.observeLag(events, receivedAt);
    if (this.tap?.watching) this.tap.accepted(events);
    const ack = this.router.submit(events, routes, req.mode !== 'beacon');
    result.durable = ack?.done;
    return result;
  }

  /** Writes records refused before they reached a topic's checks (and counts them, as the dead letter does). */
  deadLetterRefused(records: DeadLetterRecord[]): void {
    if (records.length > 0) void this.deadLetter.write(records);
  }

  private spillToSpool(events: GatewayEvent[], version: TopicVersion, routes: readonly Route[]): void {
    this.countAccepted(version, events.length);
    this.metrics.destinationRecords.labels(this.spool!.name, 'spilled').inc(events.length);
    for (const route of routes) this.metrics.routeEvents.labels(route.label, 'spooled').inc(events.length);
    const dropped = (count: number) => count > 0 && this.metrics.eventsDropped.labels(version.service, version.topic, 'spool_failed').inc(count);
    this.spool!.send(events).then(
      (failures) => dropped(failures.length),
      () => dropped(events.length),
    );
  }

  private countAccepted(version: TopicVersion, count: number): void {
    this.metrics.events.labels(version.service, version.topic, String(version.version), 'accepted').inc(count);
  }

  /** Counts events refused as a whole (4xx/503 for the request). */
  reject(topic: Topic, versionLabel: string, count: number, reason: string): void {
    if (count === 0) return;
    this.metrics.events.labels(topic.service, topic.name, versionLabel, 'rejected').inc(count);
    this.metrics.eventsRejected.labels(topic.service, topic.name, reason).inc(count);
  }

  /** The inspector's view of the refused events of a request, with every problem's field path. */
  private showRefused(state: Acceptance): void {
    const { req } = state;
    const byIndex = new Map<number, { path: string; message: string }[]>();
    for (const e of state.errors) {
      let list = byIndex.get(e.index);
      if (!list) byIndex.set(e.index, (list = []));
      list.push({ path: e.path, message: e.message });
    }
    let shown = 0;
    for (const [index, errors] of byIndex) {
      if (shown++ >= MAX_VIEWS_PER_REQUEST) break;
      this.tap!.refused({ outcome: state.tooLargeAt?.includes(index) ? 'too_large' : 'invalid', service: req.topic.service, topic: req.topic.name, version: req.version.version, source: req.source, index, errors, input: req.events[index] });
    }
    this.tap!.omit(Math.max(0, state.invalid + state.tooLarge - Math.min(shown, MAX_VIEWS_PER_REQUEST)));
  }

  private observeLag(events: GatewayEvent[], receivedAt: number): void {
    let lag: ReturnType<GatewayMetrics['eventLag']['labels']> | undefined;
    for (const event of events) {
      if (event.eventTime === undefined) continue;
      lag ??= this.metrics.eventLag.labels(event.schema.service, event.schema.topic);
      lag.observe(Math.max(0, receivedAt - event.eventTime) / 1000);
    }
  }
}

/** An event's problems against `version`, its data in the schema's shape, its `$id` and `$time`. */
export function checkEventInput(input: Record<string, unknown>, version: TopicVersion): CheckedEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { list: [{ path: '', message: `an event must be a JSON object, got ${Array.isArray(input) ? 'array' : input === null ? 'null' : typeof input}` }] };
  }
  const ctx = new NormalizeContext();
  const data = version.normalize(input, ctx);
  const id = clientEventId(input.$id);
  const time = clientEventTime(input.$time);
  const list = ctx.problems;
  if (id instanceof Error) list.push({ path: '$id', message: id.message });
  if (time instanceof Error) list.push({ path: '$time', message: time.message });
  return { data, id: id instanceof Error ? undefined : id, time: time instanceof Error ? undefined : time, list };
}
