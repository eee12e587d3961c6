import { spawn, spawnSync } from 'node:child_process';

// wrk: a C load generator, much lighter than autocannon, so that less of the 2 cores goes to
// making load. It sends one fixed URL (no per-request variety without a Lua script), which for
// the pixel costs the server the same work as varied ones of the same length.

const WRK = '/usr/bin/wrk';

export interface WrkResult {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xxOr3xx: number;
  socketErrors: number;
}

export function wrkAvailable(): boolean {
  return spawnSync(WRK, ['--version']).error === undefined;
}

export function runWrk(url: string, connections: number, durationSeconds: number, headers: Record<string, string>): Promise<WrkResult> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`load goes to 127.0.0.1 only, not ${url}`);
  const args = ['-t1', `-c${connections}`, `-d${durationSeconds}s`, '--latency', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  return new Promise((resolve, reject) => {
    const child = spawn(WRK, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${output}`));
      resolve(parseWrk(output));
    });
  });
}

function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp) => Number(output.match(pattern)?.[1] ?? 0);
  const socketErrors = output.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    latencyP50Ms: durationMs(output.match(/^\s+50%\s+(\S+)/m)?.[1]),
    latencyP99Ms: durationMs(output.match(/^\s+99%\s+(\S+)/m)?.[1]),
    non2xxOr3xx: number(/Non-2xx or 3xx responses:\s+(\d+)/),
    socketErrors: socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

/** wrk prints latencies as 812.00us, 1.25ms or 1.02s. */
function durationMs(text: string | undefined): number {
  const match = text?.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!match) return NaN;
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Math.round(Number(match[1]) * scale * 100) / 100;
}
