import type { GatewayConfig } from './config/config';
import { deadLetterDir } from './destinations/create-destination';
import { DeadLetterStore, type DeadLetterEntry, type DeadLetterFilter } from './destinations/dead-letter/dead-letter-store';
import { destinationOptionsSchema, destinationRegistry } from './destinations/registry';
import { timeBound } from './http/inspector-routes';
import { redrive, type RedriveResult } from './ingest/dead-letter-redrive';
import { loadServedTopics } from './segment/segment-topics';

// `tracking-gateway dead-letter list|show|replay`: the dead letter read from disk (every
// worker's), checked against the topics on disk for a dry run; a real re-drive asks the
// running gateway's admin port, the one writer of its dead letter, to do it (as the page does).

export interface DeadLetterOptions {
  topic?: string;
  reason?: string;
  since?: string;
  until?: string;
  limit?: string;
  'dry-run'?: boolean;
  admin?: string;
  json?: boolean;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function filterOf(options: DeadLetterOptions): DeadLetterFilter {
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new Error('--limit must be a whole number of at least 1');
  return { topic: options.topic, reason: options.reason, since: timeBound(options.since, '--since'), until: timeBound(options.until, '--until'), limit };
}

function printEntry(e: DeadLetterEntry): void {
  const where = `${e.service}/${e.topic}${e.version === undefined ? '' : ` v${e.version}`}`;
  console.log(`${e.receivedtime}  ${e.reason.padEnd(15)}  ${where.padEnd(28)}  ${e.id}\n    ${clip(e.message, 160)}`);
}

function printResult(r: RedriveResult, dryRun: boolean): void {
  const mark = r.outcome === 'accepted' ? '✓' : '✗';
  const verb = r.outcome === 'accepted' ? (dryRun ? `would pass (v${r.version})` : `accepted (v${r.version})`) : r.outcome;
  const why = r.errors ? r.errors.map((p) => `${p.path || '(event)'}: ${p.message}`).join('; ') : (r.message ?? '');
  console.log(`${mark} ${r.id} ${r.service}/${r.topic} ${verb}${why ? ` — ${why}` : ''}`);
}

export async function deadLetterCommand(sub: string, args: string[], options: DeadLetterOptions, config: Readonly<GatewayConfig>): Promise<number> {
  const store = new DeadLetterStore(deadLetterDir(config));
  const filter = filterOf(options);
  if (sub === 'list') {
    const listing = await store.list(filter);
    if (options.json) console.log(JSON.stringify(listing, null, 2));
    else {
      for (const entry of listing.entries) printEntry(entry);
      const reasons = Object.entries(listing.byReason).map(([reason, n]) => `${n} ${reason}`).join(', ');
      console.log(`dead-letter list: ${listing.entries.length} entries, newest first${reasons ? ` (${reasons})` : ''}${listing.more ? '; more match (--limit)' : ''}`);
    }
    return 0;
  }
  if (sub === 'show') {
    if (args.length === 0) throw new Error('dead-letter show needs the id of an entry (from dead-letter list)');
    const { entries } = await store.list({ ids: args, limit: args.length });
    for (const entry of entries) console.log(JSON.stringify(entry, null, 2));
    const missing = args.filter((id) => !entries.some((e) => e.id === id));
    for (const id of missing) console.error(`dead-letter show: no entry ${id} (re-driven, or never there)`);
    return missing.length > 0 ? 1 : 0;
  }
  if (sub === 'replay') {
    const ids = args.length > 0 ? args : undefined;
    let results: RedriveResult[];
    const dryRun = options['dry-run'] === true;
    if (dryRun) {
      const registry = loadServedTopics(config, destinationOptionsSchema(destinationRegistry));
      const { entries } = await store.list({ ...filter, ids });
      results = await redrive(entries, { registry });
    } else {
      const host = config.server.adminHost === '0.0.0.0' || config.server.adminHost === '::' ? '127.0.0.1' : config.server.adminHost;
      const admin = options.admin ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.server.adminPort}`;
      const { since, until, ...rest } = filter;
      const body = { ...rest, ids, since: since === undefined ? undefined : String(since), until: until === undefined ? undefined : String(until), confirm: true };
      let answer: Response;
      try {
        answer = await fetch(`${admin}/inspect/dead-letter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
      } catch (err) {
        console.error(`dead-letter replay: cannot reach the gateway's admin port at ${admin} (${(err as Error).message}); is it running? (--admin URL)`);
        return 1;
      }
      const result = (await answer.json().catch(() => ({}))) as { results?: RedriveResult[]; error?: { message: string } };
      if (!answer.ok || !result.results) {
        console.error(`dead-letter replay: the gateway answered ${answer.status}: ${result.error?.message ?? 'no results'}`);
        return 1;
      }
      results = result.results;
    }
    if (options.json) console.log(JSON.stringify(results, null, 2));
    else for (const r of results) printResult(r, dryRun);
    const passed = results.filter((r) => r.outcome === 'accepted').length;
    console.log(`dead-letter replay${dryRun ? ' --dry-run' : ''}: ${passed} of ${results.length} ${dryRun ? 'would pass' : 'accepted'} today's schemas${dryRun ? '' : '; the rest stay in the dead letter'}`);
    return 0;
  }
  throw new Error(`unknown command "dead-letter ${sub}"`);
}
