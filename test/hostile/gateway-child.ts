import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, GATEWAY_NODE_FLAGS, sumMetric } from '../../load-tests/gateway-process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The gateway under attack: `node <checkout>/dist/src/cli.js serve --config FILE` in a child
// process of its own, as production runs it (same node flags), on free loopback ports with a
// temporary data directory. The attack tests and the hostile report (load-tests/hostile.ts)
// both start it here, the report also from an older checkout whose config knows fewer keys:
// keys a build refuses as unknown are dropped and named, so that its answers can still be
// measured.

/** This project's root, from dist/test/hostile/. */
export const PROJECT_ROOT = resolve(__dirname, '..', '..', '..');

const MiB = 1024 * 1024;

/** The small limits the attack tests run under (issue 10; keys from /tmp/tg/contract.md). */
export const HOSTILE_LIMITS = {
  server: {
    bodyLimitBytes: 4 * MiB,
    maxDecodedBytes: 16 * MiB,
    maxEventsPerRequest: 10_000,
    maxErrorsReturned: 100,
    maxUrlBytes: 8192,
    maxHeaderBytes: 16384,
    requestTimeoutMs: 3000,
    headersTimeoutMs: 2000,
    keepAliveTimeoutMs: 2000,
    maxConnections: 100,
  },
  deadLetter: { maxPayloadBytes: 4096, maxBytes: 1 * MiB },
  auth: { keys: [{ key: 'hostile-test-key', scopes: ['*'] }] },
  // Every Segment call type on, so the attacks reach every topic they can be mapped to.
  segment: { calls: ['track', 'identify', 'page', 'screen', 'group', 'alias'] },
} as const;

/** The header that carries HOSTILE_LIMITS' service key. */
export const HOSTILE_AUTH = { Authorization: 'Bearer hostile-test-key' };

export interface HostileGateway {
  child: ChildProcess;
  pid: number;
  port: number;
  adminPort: number;
  dataDir: string;
  /** The config the gateway runs with (after dropping keys it refused). */
  config: Record<string, any>;
  /** Config keys this build refused as unknown, dropped to start it anyway ("server.maxConnections"). */
  droppedKeys: string[];
  /** stdout and stderr so far (the last 256 KiB). */
  output(): string;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; the exit code (null when killed). Removes the data dir. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  /** A checkout whose dist/ is built; default this project. */
  checkout?: string;
  /** Config over the defaults set here (ports, dirs, log level). */
  config?: Record<string, any>;
  readyTimeoutMs?: number;
  /** Environment over the test run's, e.g. MALLOC_ARENA_MAX. */
  env?: Record<string, string>;
}

export { freePort };

export async function startHostileGateway(options: StartOptions = {}): Promise<HostileGateway> {
  const checkout = resolve(options.checkout ?? PROJECT_ROOT);
  const droppedKeys: string[] = [];
  for (let attempt = 0; attempt < 30; attempt++) {
    const [port, adminPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'tg-hostile-'));
    const config = deepMerge(
      {
        topicsDir: join(checkout, 'topics'),
        dataDir,
        logLevel: 'warn',
        shutdown: { graceMs: 5000 },
        // One process: the attacks watch its pid's memory and its files (older checkouts drop the key).
        workers: 1,
      },
      options.config ?? {},
    );
    config.server = { ...config.server, host: '127.0.0.1', port, adminHost: '127.0.0.1', adminPort };
    for (const key of droppedKeys) deletePath(config, key);
    const configFile = join(dataDir, 'gateway.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const gateway = spawnGateway(checkout, configFile, { port, adminPort, dataDir, config, droppedKeys }, options.env);
    const ready = await waitReady(gateway, options.readyTimeoutMs ?? 20_000);
    if (ready === true) return gateway;
    await gateway.stop(0);
    const unknown = unknownKeys(gateway.output());
    if (ready === 'exited' && unknown.length > 0 && unknown.every((k) => !droppedKeys.includes(k))) {
      droppedKeys.push(...unknown);
      continue;
    }
    throw new Error(`gateway from ${checkout} did not become ready (${ready}):\n${gateway.output()}`);
  }
  throw new Error('gateway: too many config keys refused');
}

function spawnGateway(
  checkout: string,
  configFile: string,
  parts: { port: number; adminPort: number; dataDir: string; config: Record<string, any>; droppedKeys: string[] },
  env: Record<string, string> = {},
): HostileGateway {
  let output = '';
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, join(checkout, 'dist', 'src', 'cli.js'), 'serve', '--config', configFile], {
    cwd: checkout,
    // None of the test run's GATEWAY_*, KAFKA_*, FIREHOSE_*, AWS_* or NODE_OPTIONS (tap's loaders).
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(GATEWAY_|KAFKA_|FIREHOSE_|AWS_|NODE_OPTIONS$)/.test(name))), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > 256 * 1024) output = output.slice(-256 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    pid: child.pid!,
    ...parts,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(parts.dataDir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}

async function waitReady(gateway: HostileGateway, timeoutMs: number): Promise<true | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!gateway.alive()) return 'exited';
    const answer = await httpGet(gateway.adminPort, '/readyz', 1000).catch(() => undefined);
    if (answer?.status === 200) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'timeout';
}

/** `server: unknown key "maxConnections"` → "server.maxConnections" (the config error's wording). */
function unknownKeys(output: string): string[] {
  const keys: string[] = [];
  for (const match of output.matchAll(/^\s*(?:([\w.]+): )?unknown key "([^"]+)"/gm)) keys.push(match[1] ? `${match[1]}.${match[2]}` : match[2]);
  return keys;
}

function deepMerge(base: Record<string, any>, over: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = typeof value === 'object' && value !== null && !Array.isArray(value) && typeof out[key] === 'object' ? deepMerge(out[key], value) : value;
  }
  return out;
}

function deletePath(target: Record<string, any>, path: string): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) return;
    node = node[key];
  }
  delete node[keys[keys.length - 1]];
}

/** A plain GET over node:http (no keep-alive): status and body. */
export function httpGet(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The gateway's resident set in bytes, from /proc/<pid>/status; 0 once it is gone. */
export function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples RSS every `intervalMs` until stopped; the peak. */
export function sampleRss(pid: number, intervalMs = 50): { stop(): number; peak(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, intervalMs);
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes(pid));
      return peak;
    },
  };
}

export { sumMetric };

/** Whether any sample of the metric is present. */
export function hasMetric(text: string, name: string): boolean {
  return text.split('\n').some((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}
