import cluster, { type Worker } from 'node:cluster';
import type { DeadLetterFilter } from '../destinations/dead-letter/dead-letter-store';
import { GatewayError, type ErrorCode } from '../errors';
import type { Gateway } from '../gateway';
import type { RedriveResult } from '../ingest/dead-letter-redrive';
import type { EventTap, TapBatch } from '../inspect/event-tap';
import { workerDirName } from './worker-config';

// The inspector of a cluster. The primary owns the admin port and the page's one stream;
// workers tap their own ingest and send their views to it over the IPC channel, but only
// while the primary says a page watches, and with at most one batch in the channel at a
// time (a batch that finds the previous one still on its way is counted as left out), so
// that a busy worker neither pays for an unwatched tap nor queues views it cannot hand over.
// The primary relays rather than the page fanning out to workers: workers share the public
// port and have no admin port of their own, and one stream per page is what the bounds count.

const EVENTS = 'tracking-gateway:inspector-events';
const WATCH = 'tracking-gateway:inspector-watch';

interface EventsMessage {
  type: typeof EVENTS;
  batch: TapBatch;
}
interface WatchMessage {
  type: typeof WATCH;
  watching: boolean;
}

/** In a worker: the sink of its tap, sending batches to the primary one at a time. */
export function primarySink(): (batch: TapBatch) => void {
  let inFlight = false;
  let omitted = 0;
  return (batch) => {
    if (inFlight || !process.connected) {
      omitted += batch.events.length + batch.omitted;
      return;
    }
    inFlight = true;
    const message: EventsMessage = { type: EVENTS, batch: { events: batch.events, omitted: batch.omitted + omitted } };
    omitted = 0;
    process.send?.(message, undefined, {}, () => (inFlight = false));
  };
}

/** In a worker: the primary turns the tap on while some page watches. */
export function followPrimaryWatching(tap: EventTap): void {
  process.on('message', (message: WatchMessage) => {
    if (message?.type === WATCH) tap.setWatching(message.watching === true);
  });
}

/** In the primary: tells every worker (and each one started later) whether a page watches. */
export function tellWorkersWatching(watching: boolean): void {
  for (const worker of Object.values(cluster.workers ?? {})) if (worker?.isConnected()) worker.send({ type: WATCH, watching } satisfies WatchMessage);
}

/** In the primary: hands a worker's views to `publish`; a worker started while a page watches is told so. */
export function relayWorkerEvents(worker: Worker, publish: (batch: TapBatch) => void, watching: () => boolean): void {
  worker.on('message', (message: EventsMessage) => {
    if (message?.type === EVENTS && message.batch && Array.isArray(message.batch.events)) publish(message.batch);
  });
  worker.once('online', () => watching() && worker.send({ type: WATCH, watching: true } satisfies WatchMessage));
}

export interface RedriveRequest {
  filter: DeadLetterFilter;
  dryRun: boolean;
}

/** A worker's answer: its results, or why it could not (a re-drive already running there, shutting down). */
export interface RedriveAnswer {
  results: RedriveResult[];
  error?: { code: ErrorCode; message: string };
}

/**
 * In worker `id`: a re-drive the primary asked for. Entry ids the primary lists are under the
 * cluster's dead-letter folder (`worker-N/...`); this worker takes its own and answers in the
 * same terms.
 */
export async function workerRedrive(gateway: Gateway, id: number, request: RedriveRequest): Promise<RedriveAnswer> {
  const prefix = `${workerDirName(id)}/`;
  let filter = request.filter;
  if (filter.ids) {
    const own = filter.ids.filter((i) => i.startsWith(prefix)).map((i) => i.slice(prefix.length));
    if (own.length === 0) return { results: [] };
    filter = { ...filter, ids: own };
  }
  try {
    const results = await gateway.redrive(filter, request.dryRun);
    return { results: results.map((r) => ({ ...r, id: `${prefix}${r.id}` })) };
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return { results: [], error: { code: err.code, message: `worker ${id}: ${err.message}` } };
  }
}

/** In the primary: every worker's results as one; when none could re-drive, why. */
export function mergeRedriveAnswers(answers: readonly RedriveAnswer[]): RedriveResult[] {
  const errors = answers.flatMap((a) => (a.error ? [a.error] : []));
  if (errors.length > 0 && errors.length === answers.length) throw new GatewayError(errors[0].code, errors.map((e) => e.message).join('; '));
  return answers.flatMap((a) => a.results);
}
