import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Test } from 'tap';
import { buildConfig, type GatewayConfig } from '../../src/config/config';
import type { Destination } from '../../src/destinations/destination';
import { Gateway } from '../../src/gateway';

export const PROJECT_ROOT = resolve(__dirname, '..', '..', '..');
/** The service key every test gateway knows (scope `*`), and the header that sends it. */
export const TEST_SERVICE_KEY = 'test-service-key';
export const SERVICE_AUTH = { authorization: `Bearer ${TEST_SERVICE_KEY}` } as const;
/** The same key as GATEWAY_KEYS gives it to a gateway process. */
export const TEST_KEYS_ENV = { GATEWAY_KEYS: `${TEST_SERVICE_KEY}=*` };
export const TOPICS_DIR = join(PROJECT_ROOT, 'topics');

export function tempDir(prefix = 'tg-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A gateway on the example topics, temp data dir, ports chosen by the OS; not yet started.
 * With `doubles`, those test destinations stand in for the configured ones, in route order.
 */
export function testGateway(
  overrides: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  doubles?: Destination[],
): { gateway: Gateway; config: Readonly<GatewayConfig>; dataDir: string } {
  const dataDir = tempDir();
  const destinations = doubles && { destinations: Object.fromEntries(doubles.map((d) => [d.name, { type: 'file' }])) };
  const config = buildConfig(
    {
      topicsDir: TOPICS_DIR,
      dataDir,
      logLevel: 'warn',
      server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1' },
      auth: { keys: [{ key: TEST_SERVICE_KEY, scopes: ['*'] }] },
      ...destinations,
      ...overrides,
    },
    env,
  );
  return { gateway: new Gateway(config, doubles), config, dataDir };
}

/** testGateway, closed and cleaned up when the test ends; not listening (use `inject`). */
export function injectableGateway(t: Test, overrides: Record<string, unknown> = {}) {
  const { gateway, dataDir } = testGateway(overrides);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  return { app: gateway.publicServer, gateway, dataDir };
}

/**
 * A started gateway on 127.0.0.1 whose widget/impression topic allows only `origin`, with
 * `server` keys over the test defaults; closed
 * and cleaned up when the test ends (closing it first flushes what it holds to `dataDir`).
 */
export async function gatewayAllowing(t: Test, origin: string, server: Record<string, unknown> = {}): Promise<{ gateway: Gateway; dataDir: string; url: string }> {
  const topicsDir = tempDir();
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  writeFileSync(join(topicsDir, 'widget/impression/topic.yaml'), `access: public\nallowedOrigins: ["${origin}"]\ndefaultVersion: 2\npartitionKey: widgetId\nmaxEventBytes: 8192\n`);
  const dataDir = tempDir();
  const gateway = new Gateway(buildConfig({ topicsDir, dataDir, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, ...server } }, {}));
  const { port } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    removeDir(topicsDir);
  });
  return { gateway, dataDir, url: `http://127.0.0.1:${port}` };
}

/** Every NDJSON line of every .ndjson.gz file under `dir`, parsed. */
export function readGzipLines(dir: string): any[] {
  const lines: any[] = [];
  for (const file of listFiles(dir).filter((f) => f.endsWith('.ndjson.gz'))) {
    const text = gunzipSync(readFileSync(file)).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') lines.push(JSON.parse(line));
  }
  return lines;
}

export function listFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(listFiles(path));
    else out.push(path);
  }
  return out;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Reads one sample of a metric from Prometheus text, matching all given labels. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split(' ')[0];
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) {
      total += Number(line.split(' ').pop());
      found = true;
    }
  }
  return found ? total : 0;
}

export const validImpression = (over: Record<string, unknown> = {}) => ({
  widgetId: 'w-1',
  pageUrl: 'https://publisher.example/articles/1',
  placement: 'SIDEBAR',
  position: 2,
  ...over,
});

export const validOrder = (over: Record<string, unknown> = {}) => ({
  orderId: 'o-1',
  customerId: 'c-1',
  placedAt: 1764000000000,
  totalCents: 4599,
  currency: 'EUR',
  couponCode: null,
  items: [
    { sku: 'SKU-1', quantity: 2, unitPriceCents: 1500 },
    { sku: 'SKU-2', quantity: 1, unitPriceCents: 1599 },
  ],
  ...over,
});
