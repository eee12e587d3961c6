import { createHash } from 'node:crypto';
import type { DeadLetterEntry, DeadLetterStore } from '../destinations/dead-letter/dead-letter-store';
import { GatewayError } from '../errors';
import type { GatewayMetrics } from '../metrics/metrics';
import type { FieldProblem } from '../topics/avro-normalizer';
import type { TopicRegistry } from '../topics/registry';
import { checkEventInput, type Ingest } from './ingest';
import { durableWithin } from '../route/ack';

// Re-driving dead letters: each entry becomes the event it was (what the client sent, or the
// data of an accepted event a destination refused), with its `$id`, and goes through today's
// validation against its topic's default version, then down its route like a service event.
// An entry leaves the dead letter (the ledger, dead-letter-store.ts) only once its event is
// durable; what still fails stays where it is and is not written again.
//
// Two re-drives of one entry (a crash, or a failed ledger write, between delivery and the
// ledger) carry the same id, so that consumers can recognise the second as a duplicate.

/** What became of one entry. Bounded: the `outcome` label of dead_letter_replayed_total. */
export type RedriveOutcome = 'accepted' | 'invalid' | 'unreadable' | 'failed';

export interface RedriveResult {
  id: string;
  service: string;
  topic: string;
  outcome: RedriveOutcome;
  /** The version it was checked against. */
  version?: number;
  errors?: readonly FieldProblem[];
  message?: string;
}

/**
 * The event an entry holds, or why it holds none. Its id: its `$id` (or the accepted event's
 * id); for an event that had none, one derived from the entry, the same on every re-drive.
 */
function eventInput(entry: DeadLetterEntry): Record<string, unknown> | string {
  if (entry.payloadTruncated !== undefined) return `its payload was cut to deadLetter.maxPayloadBytes when stored (${entry.payloadBytes} bytes)`;
  const payload = entry.payload as Record<string, unknown> | undefined;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return 'its payload is not an event object';
  const derivedId = `dl-${createHash('sha256').update(`${entry.id}@${entry.sha}`).digest('hex').slice(0, 32)}`;
  if (entry.reason === 'too_large' || entry.reason === 'malformed') {
    // An accepted event, stored as its CloudEvent.
    if (typeof payload.data !== 'object' || payload.data === null) return `its CloudEvent has no data (${String(payload.unencodable ?? 'not encodable')})`;
    return { ...(payload.data as Record<string, unknown>), $id: payload.id ?? derivedId, $time: payload.time };
  }
  return payload.$id === undefined ? { ...payload, $id: derivedId } : payload;
}

export interface RedriveOptions {
  registry: TopicRegistry;
  /** Without: a dry run, which only validates. */
  ingest?: Ingest;
  store?: DeadLetterStore;
  metrics?: GatewayMetrics;
  /** How long to wait for re-driven events to become durable. */
  ackTimeoutMs?: number;
  log?: { error(fields: object, message: string): void };
}

export async function redrive(entries: readonly DeadLetterEntry[], options: RedriveOptions): Promise<RedriveResult[]> {
  const results = new Map<string, RedriveResult>();
  const groups = new Map<string, { entry: DeadLetterEntry; input: Record<string, unknown> }[]>();
  for (const entry of entries) {
    const base = { id: entry.id, service: entry.service, topic: entry.topic };
    const topic = options.registry.get(entry.service, entry.topic);
    if (!topic) {
      results.set(entry.id, { ...base, outcome: 'unreadable', message: `topic ${entry.service}/${entry.topic} is no longer in topics/` });
      continue;
    }
    const input = eventInput(entry);
    if (typeof input === 'string') {
      results.set(entry.id, { ...base, outcome: 'unreadable', message: input });
      continue;
    }
    const version = topic.versions.get(topic.config.defaultVersion)!;
    const checked = checkEventInput(input, version);
    if (checked.list.length > 0 || !options.ingest) {
      results.set(entry.id, { ...base, version: version.version, outcome: checked.list.length > 0 ? 'invalid' : 'accepted', errors: checked.list.length > 0 ? checked.list : undefined });
      continue;
    }
    const key = `${entry.service}/${entry.topic}\0${entry.source}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push({ entry, input });
  }
  for (const group of groups.values()) {
    for (const r of await sendGroup(group, options)) results.set(r.id, r);
  }
  const ordered = entries.map((e) => results.get(e.id)!);
  if (options.ingest && options.metrics) {
    const counts = new Map<RedriveOutcome, number>();
    for (const r of ordered) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
    for (const [outcome, n] of counts) options.metrics.deadLetterReplayed.labels(outcome).inc(n);
  }
  return ordered;
}

/** One topic's (and source's) entries as one replay request; those durable leave the dead letter. */
async function sendGroup(group: { entry: DeadLetterEntry; input: Record<string, unknown> }[], options: RedriveOptions): Promise<RedriveResult[]> {
  const { entry: first } = group[0];
  const topic = options.registry.get(first.service, first.topic)!;
  const version = topic.versions.get(topic.config.defaultVersion)!;
  const base = (entry: DeadLetterEntry) => ({ id: entry.id, service: entry.service, topic: entry.topic, version: version.version });
  let result;
  try {
    result = await options.ingest!.acceptBatch({
      topic,
      version,
      events: group.map((g) => g.input),
      prevalidated: false,
      bodyBytes: group.reduce((sum, g) => sum + g.entry.payloadBytes, 0),
      mode: 'replay',
      partial: true,
      source: first.source,
      clientIp: '',
      userAgent: undefined,
    });
  } catch (err) {
    const message = err instanceof GatewayError ? err.message : String(err);
    return group.map((g) => ({ ...base(g.entry), outcome: 'failed', message }));
  }
  const refused = new Map<number, FieldProblem[]>();
  for (const e of result.errors) {
    let list = refused.get(e.index);
    if (!list) refused.set(e.index, (list = []));
    list.push({ path: e.path, message: e.message });
  }
  // Checked above against the same version; only a size bound can refuse one here.
  const taken = group.filter((_, i) => !refused.has(i));
  const timeout = options.ackTimeoutMs ?? 10_000;
  const durable = taken.length === 0 || result.durable === undefined ? true : await durableWithin(result.durable, timeout);
  let failure = durable ? undefined : `not durable within ${timeout} ms; it stays in the dead letter`;
  if (durable && taken.length > 0) {
    try {
      await options.store!.markReplayed(taken.map((g) => g.entry));
    } catch (err) {
      failure = `delivered, but the dead letter's ledger could not be written (${(err as Error).message}); it stays listed, and a later re-drive sends it again with the same id`;
      options.log?.error({ err, entries: taken.length }, `dead-letter re-drive: ${failure}`);
    }
  }
  return group.map((g, i) => {
    const errors = refused.get(i);
    if (errors) return { ...base(g.entry), outcome: 'invalid', errors };
    return failure === undefined ? { ...base(g.entry), outcome: 'accepted' } : { ...base(g.entry), outcome: 'failed', message: failure };
  });
}
