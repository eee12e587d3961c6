import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The gateway as its users run it: `node dist/src/cli.js serve` in a process of its own, on
// free loopback ports with a temporary data directory, stopped with SIGTERM.

const CLI = join(__dirname, '..', 'src', 'cli.js');

/**
 * Node flags the gateway runs with wherever it is started for real (`npm start`, the image's
 * entrypoint; test/runtime-flags.test.ts keeps them equal). A 32 MiB semi-space instead of
 * 16: events wait in batches for milliseconds, long enough to outlive a small young
 * generation and be copied into the old one; with it, service batches of 100 over 32
 * connections went from 557–627 to 696–769 requests/s, and p99 from 83–102 to 66–74 ms.
 * --expose-gc: one full collection once the process goes idle after decoding large bodies,
 * so that their memory comes back (src/http/idle-collection.ts, docs/memory.md).
 */
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=32', '--expose-gc'];
const READY_TIMEOUT_MS = 15_000;

export interface GatewayOptions {
  /** GATEWAY_* variables over the defaults set here. */
  env?: Record<string, string>;
  /** Arguments for node before the script, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** A config file (YAML or JSON), for what no environment variable sets. */
  configFile?: string;
}

export interface GatewayProcess {
  /** The process started (the cluster's primary when there are workers). */
  pid: number;
  baseUrl: string;
  adminUrl: string;
  dataDir: string;
  metrics(): Promise<string>;
  /** SIGTERM, then the exit code once the gateway has drained and exited. */
  stop(): Promise<number | null>;
}

/** A port the kernel had free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The service key every load-tested gateway takes (GATEWAY_KEYS), and the header that sends it. */
export const LOAD_TEST_KEY = 'load-test-key';
export const LOAD_TEST_AUTH = { authorization: `Bearer ${LOAD_TEST_KEY}` };

export async function startGateway(options: GatewayOptions = {}): Promise<GatewayProcess> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'tracking-gateway-load-'));
  const args = [...GATEWAY_NODE_FLAGS, ...(options.nodeArgs ?? []), CLI, 'serve', ...(options.configFile ? ['--config', options.configFile] : [])];
  const child = spawn(process.execPath, args, {
    cwd: join(__dirname, '..', '..'),
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      // The load tests measure the gateway as the image runs it, a worker per CPU, unless the
      // environment or the scenario says otherwise (the config's default is one process).
      GATEWAY_WORKERS: 'auto',
      ...process.env,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_ADMIN_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_PORT: String(adminPort),
      GATEWAY_DATA_DIR: dataDir,
      GATEWAY_LOG_LEVEL: 'warn',
      GATEWAY_KEYS: `${LOAD_TEST_KEY}=*`,
      ...options.env,
    },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitUntilReady(adminUrl, child);
  return {
    pid: child.pid!,
    baseUrl: `http://127.0.0.1:${port}`,
    adminUrl,
    dataDir,
    metrics: async () => (await fetch(`${adminUrl}/metrics`)).text(),
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

async function waitUntilReady(adminUrl: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode} before it was ready`);
    try {
      if ((await fetch(`${adminUrl}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`gateway not ready within ${READY_TIMEOUT_MS} ms`);
}

/**
 * Sum of a metric's samples whose labels include every pair in `labels`, from Prometheus
 * text. Only plain `name{labels} value` lines are read: enough for counters and gauges.
 */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const close = rest.indexOf('}');
    const labelText = rest[0] === '{' ? rest.slice(1, close) : '';
    const pairs = labelText === '' ? [] : labelText.split(',');
    if (!Object.entries(labels).every(([k, v]) => pairs.includes(`${k}="${v}"`))) continue;
    sum += Number(rest.slice(rest[0] === '{' ? close + 1 : 0).trim().split(' ')[0]);
  }
  return sum;
}
