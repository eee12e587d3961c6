import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './gateway-process';

// Benthos v4 (Go; MIT) as the gateway's peer: http_server input → kafka_franz output, the
// same job as POST /v1/events into Kafka, and http_server → file output of gzip NDJSON, the
// same job into files; each using every core. Built once by scripts/ensure-benthos.sh into
// the cache.

const ENSURE_SCRIPT = join(__dirname, '..', '..', 'scripts', 'ensure-benthos.sh');

export interface BenthosProcess {
  pid: number;
  baseUrl: string;
  /** The path it takes POSTs on. */
  path: string;
  stop(): Promise<void>;
}

/** The binary, built if needed (about 13 minutes cold); undefined with the reason printed when it cannot be had. */
export function ensureBenthos(): string | undefined {
  const build = spawnSync('bash', [ENSURE_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (build.status !== 0) {
    console.log('Benthos could not be built (scripts/ensure-benthos.sh failed); its row is skipped');
    return undefined;
  }
  return build.stdout.trim().split('\n').pop();
}

/** What both jobs start with: an HTTP POST of a JSON array, one message per element, on every core. */
function arrayInput(port: number, adminPort: number): string {
  return `http: { address: "127.0.0.1:${adminPort}", enabled: true }
input:
  http_server: { address: "127.0.0.1:${port}", path: /post, allowed_verbs: [POST] }
pipeline:
  threads: -1
  processors:
    - unarchive: { format: json_array }
`;
}

/**
 * A config that mirrors the gateway's Kafka path: a POSTed JSON array becomes one record per
 * element, CloudEvents headers, key orderId, acks=all (kafka_franz always waits for all
 * in-sync replicas), the same codec, batches of up to 2,000 or 5 ms.
 */
function config(port: number, adminPort: number, brokers: string[], topic: string, compression: string): string {
  return `${arrayInput(port, adminPort)}    - mutation: |
        meta = deleted()
        meta ce_specversion = "1.0"
        meta ce_id = uuid_v4()
        meta ce_type = "shop.order-placed"
        meta ce_source = "/post"
        meta ce_time = now()
output:
  kafka_franz:
    seed_brokers: [${brokers.map((b) => `"${b}"`).join(', ')}]
    topic: ${topic}
    key: \${! json("orderId") }
    compression: ${compression === 'none' ? 'none' : compression}
    max_in_flight: 8
    metadata: { include_patterns: [ ".*" ] }
    batching: { count: 2000, period: 5ms }
logger: { level: WARN }
`;
}

/**
 * The file job: a POSTed JSON array becomes one CloudEvents JSON line per element (id, time,
 * type, source, data), the request's lines one gzip member (level 1, as the gateway writes)
 * appended to a minute file under `outDir`. The answer waits for the write, not for an fsync
 * (Benthos's file output has none; the gateway's answer waits for fdatasync).
 */
function filesConfig(port: number, adminPort: number, outDir: string): string {
  return `${arrayInput(port, adminPort)}    - mapping: |
        root.specversion = "1.0"
        root.id = uuid_v4()
        root.source = "/post"
        root.type = "shop.order-placed"
        root.time = now()
        root.datacontenttype = "application/json"
        root.data = this
    - archive: { format: lines }
    - mapping: 'root = content().string() + "\\n"'
    - compress: { algorithm: gzip, level: 1 }
output:
  file:
    path: '${outDir}/\${! now().ts_format("2006-01-02T15-04") }.ndjson.gz'
    codec: append
logger: { level: WARN }
`;
}

export function startBenthos(binary: string, brokers: string[], topic: string, compression: string): Promise<BenthosProcess> {
  return startWith(binary, (port, adminPort) => config(port, adminPort, brokers, topic, compression));
}

/** Benthos writing gzip NDJSON files into `outDir`. */
export function startBenthosFiles(binary: string, outDir: string): Promise<BenthosProcess> {
  return startWith(binary, (port, adminPort) => filesConfig(port, adminPort, outDir));
}

async function startWith(binary: string, configFor: (port: number, adminPort: number) => string): Promise<BenthosProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'tracking-gateway-bench-benthos-'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, 'benthos.yaml');
  writeFileSync(file, configFor(port, adminPort));
  const child = spawn(binary, ['-c', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`benthos exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${adminPort}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('benthos not ready within 30 s');
    await sleep(100);
  }
  return {
    pid: child.pid!,
    baseUrl: `http://127.0.0.1:${port}`,
    path: '/post',
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
