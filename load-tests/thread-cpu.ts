import { readdirSync, readFileSync } from 'node:fs';
import { numberFromEnv } from './env';
import { startGateway, sumMetric } from './gateway-process';
import { generateLoad } from './load-generator';
import { formatTable } from './table';

// Where the CPU goes by thread: the gateway (its primary and each worker) and the load
// generator under one scenario, CPU time per thread read from /proc, summed by thread name
// (MainThread, V8Worker: the garbage collector's helpers, libuv-worker: zlib and the file
// system), with the requests per second and the file destination's sends from /metrics. A CPU
// profile shows one thread; this shows which thread, and whether any is saturated.
// Linux only (/proc).

const SCENARIO = process.env.THREAD_CPU_SCENARIO ?? 'service-batch-json';
const CONNECTIONS = numberFromEnv('THREAD_CPU_CONNECTIONS', 64);
const SECONDS = numberFromEnv('THREAD_CPU_SECONDS', 8);
const WORKERS = process.env.GATEWAY_WORKERS ?? 'auto';
/** Linux reports thread CPU in clock ticks: USER_HZ is 100 on every architecture it runs on. */
const TICKS_PER_SECOND = 100;

/** CPU ticks (user + system) by thread name of one process; empty once it is gone. */
function threadTicks(pid: number): Map<string, number> {
  const totals = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return totals;
  }
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; the fields after it are fixed.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      totals.set(name, (totals.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return totals;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  const gateway = await startGateway({ env: { GATEWAY_WORKERS: WORKERS } });
  try {
    await generateLoad({ baseUrl: gateway.baseUrl, scenario: SCENARIO, connections: CONNECTIONS, durationSeconds: 2, pipelining: 1, account: false });
    const load = generateLoad({ baseUrl: gateway.baseUrl, scenario: SCENARIO, connections: CONNECTIONS, durationSeconds: SECONDS, pipelining: 1, account: false });
    // The load generator's process is forked by now; the window leaves out its start and end.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const processes = [
      { label: 'gateway', pid: gateway.pid },
      ...childrenOf(gateway.pid).map((pid, i) => ({ label: `gateway worker ${i + 1}`, pid })),
      ...childrenOf(process.pid)
        .filter((pid) => pid !== gateway.pid)
        .map((pid) => ({ label: 'load generator', pid })),
    ];
    const metricsBefore = await gateway.metrics();
    const before = processes.map((p) => threadTicks(p.pid));
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, (SECONDS - 1) * 1000));
    const after = processes.map((p) => threadTicks(p.pid));
    const seconds = (performance.now() - started) / 1000;
    const metricsAfter = await gateway.metrics();
    const result = await load;
    const rows: string[][] = [];
    processes.forEach((p, i) => {
      for (const [name, ticks] of after[i]) {
        const used = (ticks - (before[i].get(name) ?? 0)) / TICKS_PER_SECOND / seconds;
        if (used > 0) rows.push([p.label, String(p.pid), name, `${(100 * used).toFixed(0)} %`]);
      }
    });
    const sendMetric = (suffix: string) => {
      const name = `tracking_gateway_destination_send_duration_seconds_${suffix}`;
      return sumMetric(metricsAfter, name, { destination: 'file' }) - sumMetric(metricsBefore, name, { destination: 'file' });
    };
    const sends = sendMetric('count');
    const sendSeconds = sendMetric('sum');
    console.log(`${SCENARIO}, ${CONNECTIONS} connections, GATEWAY_WORKERS=${WORKERS}: ${Math.round(result.requestsPerSecond)} requests/s, p99 ${result.latencyP99Ms} ms, non-2xx ${result.non2xx}`);
    console.log(`CPU by thread over ${seconds.toFixed(1)} s (100 % is one core busy):\n`);
    console.log(formatTable(['process', 'pid', 'threads', 'CPU'], rows));
    if (sends > 0) console.log(`\nfile destination: ${sends} sends, ${((1000 * sendSeconds) / sends).toFixed(1)} ms each, ${((100 * sendSeconds) / seconds).toFixed(0)} % of the window in a send (over 100 %: sends overlap)`);
  } finally {
    await gateway.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
