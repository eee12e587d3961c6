import { HOSTILE_LIMITS, httpGet, rssBytes, sampleRss, type HostileGateway } from './gateway-child';
import { PROBE_REQUEST, inputBytesOf, type CaseContext, type CorpusCase, type CustomRun } from './corpus';
import { describeOutcome, exchange, jsonOf, refusalShapeProblems, requestBytes, type HttpSend, type Outcome, type RawAnswer } from './raw-http';

// Runs one corpus case against a running gateway and judges it: the answer against the
// case's expectation and the documented error shape, the process alive and answering its
// health check afterwards, its peak RSS (sampled every 50 ms) under a bound, and — for cases
// marked `probe` — valid pixel GETs sent while the case is in flight answered quickly.

export interface RunOptions {
  /** Peak RSS the gateway may reach during a case. */
  rssBoundBytes: number;
  /** A probe pixel sent while a case is in flight must be answered within this. */
  probeBoundMs: number;
  /** Overrides every case's own time bound (the report bounds each case the same way). */
  timeoutMs?: number;
}

export interface Probe {
  ms: number;
  ok: boolean;
  detail: string;
}

export interface CaseResult {
  name: string;
  issueItem: number;
  inputBytes: number;
  outcome: Outcome;
  /** "413 DECODED_TOO_LARGE", "200", "closed", "timeout", or "crashed". */
  answer: string;
  expected: string;
  ms: number;
  startRssBytes: number;
  peakRssBytes: number;
  /** RSS once the case is over: what the next case starts from. */
  endRssBytes: number;
  probes: Probe[];
  /** The process still runs and answers /healthz. */
  alive: boolean;
  /** The process is gone (exited or killed by the kernel). */
  crashed: boolean;
  failures: string[];
  notes: string[];
}

const PROBE_INTERVAL_MS = 100;

export function expectedText(c: CorpusCase): string {
  const one = (e: { status: number | 'closed'; code: string | null }) => (e.code ? `${e.status} ${e.code}` : String(e.status));
  return [one(c.expect), ...(c.expect.alsoAccept ?? []).map(one)].join(' | ');
}

export function caseContext(gateway: HostileGateway): CaseContext {
  return {
    gateway,
    limits: HOSTILE_LIMITS,
    send: (request: HttpSend | Buffer, timeoutMs = 10_000) =>
      exchange({ port: gateway.port, data: Buffer.isBuffer(request) ? request : requestBytes(request), timeoutMs, head: !Buffer.isBuffer(request) && request.method === 'HEAD' }),
  };
}

export async function runCase(gateway: HostileGateway, c: CorpusCase, options: RunOptions): Promise<CaseResult> {
  const ctx = caseContext(gateway);
  const rss = sampleRss(gateway.pid, 50);
  const startRssBytes = rss.peak();
  const timeoutMs = options.timeoutMs ?? c.timeoutMs ?? 15_000;
  const probes: Probe[] = [];
  let inFlight = true;
  let probing: Promise<void> | undefined;
  const startProbes = () => {
    if (!c.probe || probing) return;
    probing = (async () => {
      // At least one probe, started the moment the case's last byte is written; then one
      // every 100 ms while the case is still unanswered.
      do {
        const started = Date.now();
        probes.push(await probe(gateway.port));
        const wait = PROBE_INTERVAL_MS - (Date.now() - started);
        if (wait > 0 && inFlight) await new Promise((r) => setTimeout(r, wait));
      } while (inFlight && probes.length < 200);
    })();
  };

  let run: CustomRun;
  const started = Date.now();
  const port = c.port === 'admin' ? gateway.adminPort : gateway.port;
  if (c.run) {
    run = await withDeadline(c.run(ctx), timeoutMs + 5000, () => ({ outcome: { kind: 'timeout', ms: timeoutMs + 5000, received: 0 } as Outcome }));
  } else {
    const data = Buffer.isBuffer(c.send) ? c.send : requestBytes(c.send);
    const outcome = await exchange({
      port,
      data,
      timeoutMs,
      head: !Buffer.isBuffer(c.send) && c.send.method === 'HEAD',
      dribble: c.dribble,
      halfClose: c.halfClose,
      onWritten: startProbes,
    });
    run = { outcome };
  }
  inFlight = false;
  startProbes(); // a case with `probe` whose write never finished still gets its probe
  await probing;
  const peakRssBytes = rss.stop();

  // Alive: the process runs and answers its health check (a stuck event loop does not).
  await new Promise((r) => setTimeout(r, 50));
  const crashed = !gateway.alive();
  const health = crashed ? undefined : await httpGet(gateway.adminPort, '/healthz', 3000).catch(() => undefined);
  const alive = !crashed && health?.status === 200;

  const outcome = run.outcome;
  const answer = outcome.kind !== 'answer' && crashed ? 'crashed' : describeOutcome(outcome);
  const failures = [...(run.failures ?? [])];
  const notes = [...(run.notes ?? [])];
  const answered = outcome.kind === 'answer' ? outcome.answer : undefined;

  // The answer against the contract.
  const accepted = [c.expect, ...(c.expect.alsoAccept ?? [])];
  const matches = accepted.some((e) => {
    if (e.status === 'closed') return outcome.kind === 'closed';
    if (!answered || answered.status !== e.status) return false;
    return e.code === null || jsonOf(answered)?.error?.code === e.code;
  });
  if (!matches) failures.push(`answered ${answer}${outcome.kind === 'closed' ? ` (${outcome.detail})` : ''}; expected ${expectedText(c)}${answered && answered.status >= 400 ? `: ${answered.body.subarray(0, 200).toString('utf8')}` : ''}`);
  if (answered && answered.status >= 400) failures.push(...refusalShapeProblems(answered).map((p) => `refusal shape: ${p}`));
  if (answered && c.expect.maxBodyBytes !== undefined && answered.body.length >= c.expect.maxBodyBytes) {
    failures.push(`answer body is ${answered.body.length} bytes; must be under ${c.expect.maxBodyBytes} (no echo of the request)`);
  }
  if (answered) {
    for (const [name, pattern] of Object.entries(c.expect.headers ?? {})) {
      const value = answered.headers[name.toLowerCase()];
      if (value === undefined || !pattern.test(value)) failures.push(`header ${name} is ${JSON.stringify(value)}; expected ${pattern}`);
    }
  }
  if (c.expect.withinMs !== undefined && outcome.kind !== 'timeout' && outcome.ms > c.expect.withinMs) failures.push(`answered after ${outcome.ms} ms; expected within ${c.expect.withinMs} ms`);
  if (outcome.kind === 'timeout') failures.push(`no answer within ${timeoutMs} ms`);
  if (c.check && alive && matches) {
    try {
      failures.push(...(await c.check(ctx, answered)));
    } catch (err) {
      failures.push(`check failed: ${(err as Error).message}`);
    }
  }

  // The gateway itself.
  if (crashed) failures.push(`the gateway process is gone (exit ${gateway.child.exitCode}, signal ${gateway.child.signalCode})`);
  else if (!alive) failures.push('the gateway does not answer /healthz within 3 s');
  if (peakRssBytes > options.rssBoundBytes) failures.push(`peak RSS ${mib(peakRssBytes)} MiB; bound ${mib(options.rssBoundBytes)} MiB`);
  const slow = probes.filter((p) => !p.ok || p.ms > options.probeBoundMs);
  if (slow.length > 0) {
    const worst = Math.max(...probes.map((p) => p.ms));
    failures.push(`${slow.length} of ${probes.length} probe pixels sent meanwhile failed or took over ${options.probeBoundMs} ms (worst ${worst} ms; ${slow[0].detail})`);
  }
  if (probes.length > 0) notes.push(`${probes.length} probes, slowest ${Math.max(...probes.map((p) => p.ms))} ms`);

  return {
    name: c.name,
    issueItem: c.issueItem,
    inputBytes: run.inputBytes ?? inputBytesOf(c),
    outcome,
    answer,
    expected: expectedText(c),
    // A custom run's time is the whole run's (a burst, many requests), not its last answer's.
    ms: c.run ? Date.now() - started : outcome.ms,
    startRssBytes,
    peakRssBytes,
    endRssBytes: rssBytes(gateway.pid),
    probes,
    alive,
    crashed,
    failures,
    notes,
  };
}

/**
 * Whether the next case needs a fresh gateway: this one died, stopped answering, is maybe
 * still working on a request that timed out, or kept more memory than the bound (V8 rarely
 * gives it back, and the next case's peak would be this one's).
 */
export function needsRestart(result: CaseResult, rssBoundBytes: number): string | undefined {
  if (result.crashed) return 'the gateway died';
  if (!result.alive) return 'the gateway stopped answering /healthz';
  if (result.outcome.kind === 'timeout') return 'the case timed out and may still be running';
  if (result.endRssBytes > rssBoundBytes) return `the gateway kept ${mib(result.endRssBytes)} MiB`;
  return undefined;
}

/** One valid pixel GET over its own connection: answered 200 GIF? and how fast. */
export async function probe(port: number): Promise<Probe> {
  const outcome = await exchange({ port, data: requestBytes(PROBE_REQUEST), timeoutMs: 2000 });
  if (outcome.kind !== 'answer') return { ms: outcome.ms, ok: false, detail: `probe ${outcome.kind}` };
  const ok = outcome.answer.status === 200;
  return { ms: outcome.ms, ok, detail: ok ? 'probe 200' : `probe answered ${describeOutcome(outcome)}` };
}

async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(onTimeout()), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(0);

export type { RawAnswer };
