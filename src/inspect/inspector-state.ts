import type { DestinationState } from '../route/destination-health';
import type { Router } from '../route/router';
import { METRIC_PREFIX, type GatewayMetrics } from '../metrics/metrics';
import type { TopicRegistry } from '../topics/registry';

// What the inspector shows besides the stream, read from what the route and the metrics
// already know: per topic its counts and its route(s) as chains of hops; per destination its
// state, learned rate and the records it took in the last minute; the spool and dead letter
// sizes. The page polls it; with several workers the primary merges every worker's.

/** The window "the share each hop took" is measured over. */
export const SHARE_WINDOW_MS = 60_000;

export interface TopicState {
  service: string;
  topic: string;
  access: string;
  defaultVersion: number;
  versions: number[];
  /** Totals since start; the page turns two polls into events/s. */
  accepted: number;
  refused: number;
  /** Each route a chain of destination names, the spool last; today one route per topic. */
  routes: { hops: string[] }[];
}

export interface DestinationView {
  type: string;
  state: DestinationState;
  /** Records/s it is sent at most; null: no limit known. */
  learnedRate: number | null;
  /** Records it took (delivered) in the last SHARE_WINDOW_MS. */
  deliveredLastMinute: number;
}

export interface InspectorState {
  at: number;
  workers: number[];
  topics: TopicState[];
  destinations: Record<string, DestinationView>;
  spool: { bytes: number; records: number; limitBytes: number } | null;
  deadLetter: { bytes: number; limitBytes: number };
}

const STATE_RANK: Record<DestinationState, number> = { healthy: 0, throttled: 1, down: 2 };

/** Per destination, delivered totals sampled over time, so that the last minute's share is known when a page opens. */
export class DeliveryWindow {
  private samples: { at: number; totals: Map<string, number> }[] = [];

  add(at: number, totals: Map<string, number>): void {
    this.samples.push({ at, totals });
    // Keep one sample older than the window, as its start.
    while (this.samples.length > 2 && this.samples[1].at <= at - SHARE_WINDOW_MS) this.samples.shift();
  }

  lastMinute(destination: string): number {
    if (this.samples.length === 0) return 0;
    const first = this.samples[0].totals.get(destination) ?? 0;
    return (this.samples[this.samples.length - 1].totals.get(destination) ?? 0) - first;
  }
}

async function valuesOf(metrics: GatewayMetrics, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const metric = metrics.registry.getSingleMetric(`${METRIC_PREFIX}${name}`);
  return metric ? ((await metric.get()).values as { labels: Record<string, string | number>; value: number }[]) : [];
}

/** Samples the delivered totals into `window` and reads this process's state. */
export async function inspectorState(registry: TopicRegistry, router: Router, metrics: GatewayMetrics, window: DeliveryWindow, worker?: number): Promise<InspectorState> {
  const now = Date.now();
  const delivered = new Map<string, number>();
  for (const { labels, value } of await valuesOf(metrics, 'destination_records_total')) {
    if (labels.outcome === 'delivered') delivered.set(String(labels.destination), value);
  }
  window.add(now, delivered);
  const counts = new Map<string, { accepted: number; refused: number }>();
  const countOf = (labels: Record<string, string | number>) => {
    const key = `${labels.service}/${labels.topic}`;
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { accepted: 0, refused: 0 }));
    return c;
  };
  for (const { labels, value } of await valuesOf(metrics, 'events_total')) {
    if (labels.outcome === 'accepted') countOf(labels).accepted += value;
    else if (labels.outcome === 'invalid' || labels.outcome === 'rejected') countOf(labels).refused += value;
  }
  // Refused beacons are answered as always and dead-lettered: counted there, not as invalid.
  for (const { labels, value } of await valuesOf(metrics, 'events_dead_lettered_total')) {
    if (labels.reason === 'invalid' || labels.reason === 'event_too_large') countOf(labels).refused += value;
  }
  const rates = new Map<string, number>();
  for (const { labels, value } of await valuesOf(metrics, 'destination_learned_rate_records_per_second')) rates.set(String(labels.destination), value);

  const destinations: Record<string, DestinationView> = {};
  const types = new Map<string, string>();
  const topics = registry.list().map((t): TopicState => {
    const routes = router.routesFor(t);
    for (const hop of routes.flatMap((route) => route.hops)) types.set(hop.batcher.destination.name, hop.batcher.destination.type);
    const c = counts.get(`${t.service}/${t.name}`) ?? { accepted: 0, refused: 0 };
    return {
      service: t.service,
      topic: t.name,
      access: t.config.access,
      defaultVersion: t.config.defaultVersion,
      versions: [...t.versions.keys()].sort((a, b) => a - b),
      ...c,
      routes: routes.map((route) => ({ hops: route.hops.map((hop) => hop.batcher.destination.name) })),
    };
  });
  for (const [name, state] of metrics.destinationState.sample()) {
    const rate = rates.get(name);
    destinations[name] = {
      type: types.get(name) ?? 'spool',
      state: state as DestinationState,
      learnedRate: rate === undefined || !Number.isFinite(rate) ? null : rate,
      deliveredLastMinute: window.lastMinute(name),
    };
  }
  const spoolLimit = (await valuesOf(metrics, 'spool_limit_bytes'))[0]?.value ?? 0;
  return {
    at: now,
    workers: worker === undefined ? [] : [worker],
    topics,
    destinations,
    spool: spoolLimit > 0 ? { bytes: metrics.spoolBytes.sample(), records: metrics.spoolRecords.sample(), limitBytes: spoolLimit } : null,
    deadLetter: { bytes: metrics.deadLetterBytes.sample(), limitBytes: (await valuesOf(metrics, 'dead_letter_limit_bytes'))[0]?.value ?? 0 },
  };
}

/** Every worker's state as one: counts, sizes and rates add up; a destination shows its worst state. */
export function mergeStates(states: readonly InspectorState[]): InspectorState | undefined {
  if (states.length === 0) return undefined;
  const [first, ...rest] = structuredClone(states) as InspectorState[];
  for (const s of rest) {
    first.workers.push(...s.workers);
    for (const t of s.topics) {
      const mine = first.topics.find((m) => m.service === t.service && m.topic === t.topic);
      if (mine) {
        mine.accepted += t.accepted;
        mine.refused += t.refused;
      } else first.topics.push(t);
    }
    for (const [name, d] of Object.entries(s.destinations)) {
      const mine = first.destinations[name];
      if (!mine) {
        first.destinations[name] = d;
        continue;
      }
      if (STATE_RANK[d.state] > STATE_RANK[mine.state]) mine.state = d.state;
      mine.learnedRate = mine.learnedRate === null || d.learnedRate === null ? null : mine.learnedRate + d.learnedRate;
      mine.deliveredLastMinute += d.deliveredLastMinute;
    }
    if (first.spool && s.spool) {
      first.spool.bytes += s.spool.bytes;
      first.spool.records += s.spool.records;
      first.spool.limitBytes += s.spool.limitBytes;
    }
    first.deadLetter.bytes += s.deadLetter.bytes;
    first.deadLetter.limitBytes += s.deadLetter.limitBytes;
  }
  first.workers.sort((a, b) => a - b);
  return first;
}
