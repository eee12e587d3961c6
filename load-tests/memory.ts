import { flood, mib } from '../test/hostile/decode-flood';
import { HOSTILE_LIMITS, startHostileGateway } from '../test/hostile/gateway-child';
import { numberFromEnv } from './env';

// `node dist/load-tests/memory.js`: what the decode attack of issue 24 (test/hostile/
// decode-flood.ts: 48 clients sending gzip bodies that inflate to ~14 MB and ~4 MB invalid
// batches) costs one worker in memory, with and without the decode budget and glibc's arena
// cap: RSS before, at its peak and after the load, and how long /healthz took meanwhile.
// Each configuration gets a fresh gateway; they run one after the other, alternating.

const DURATION_MS = numberFromEnv('MEMORY_DURATION_S', 20) * 1000;
const SETTLE_MS = numberFromEnv('MEMORY_SETTLE_S', 10) * 1000;
const CLIENTS = numberFromEnv('MEMORY_CLIENTS', 48);
const ROUNDS = numberFromEnv('MEMORY_ROUNDS', 1);

const CONFIGS: { name: string; budget?: number; env: Record<string, string> }[] = JSON.parse(process.env.MEMORY_CONFIGS ?? 'null') ?? [
  { name: 'no budget (before), glibc default arenas', budget: 16 * 1024 ** 3, env: {} },
  { name: 'no budget, MALLOC_ARENA_MAX=2', budget: 16 * 1024 ** 3, env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'budget 40 MiB (default), glibc default arenas', env: {} },
  { name: 'budget 40 MiB (default), MALLOC_ARENA_MAX=2', env: { MALLOC_ARENA_MAX: '2' } },
];

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};

async function main(): Promise<void> {
  console.log(`${CLIENTS} clients, ${DURATION_MS / 1000} s of load, RSS read ${SETTLE_MS / 1000} s after it; one worker; machine shared`);
  console.log('| configuration | RSS before | peak | after | heap / external after | /healthz p50 / max ms | answers |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of round % 2 ? [...CONFIGS].reverse() : CONFIGS) {
      const config = { ...HOSTILE_LIMITS, server: { ...HOSTILE_LIMITS.server, requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, ...(c.budget ? { decodeBudgetBytes: c.budget } : {}) } };
      const gateway = await startHostileGateway({ config, env: c.env });
      try {
        const r = await flood(gateway, { clients: CLIENTS, durationMs: DURATION_MS, settleMs: SETTLE_MS });
        const answers = Object.entries(r.answers).map(([k, v]) => `${k}×${v}`).join(' ');
        if (process.env.MEMORY_SERIES) console.log(`  RSS each second after the load: ${r.settlingRssBytes.map(mib).join(' ')} MiB`);
        console.log(`| ${c.name} | ${mib(r.rssBeforeBytes)} MiB | ${mib(r.peakRssBytes)} MiB | ${mib(r.settledRssBytes)} MiB | ${mib(r.settledHeapBytes)} / ${mib(r.settledExternalBytes)} MiB | ${Math.round(quantile(r.healthzMs, 0.5))} / ${Math.round(Math.max(...r.healthzMs))} | ${answers} |`);
      } finally {
        await gateway.stop(5000);
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
