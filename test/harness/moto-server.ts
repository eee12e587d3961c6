// Runs moto (https://github.com/getmoto/moto), a real AWS API emulator, as a local HTTP
// server so Firehose and S3 tests talk to the actual AWS wire protocols through the real SDKs.
// moto is a Python package: it is installed once into a project-local virtualenv and reused.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { request } from 'node:http';
import { join } from 'node:path';
import { cacheRoot } from './cache-dir';
import { ensureVenv, isAlive } from './python-venv';

// Pinned so every machine emulates the same AWS behaviour; bump deliberately.
const MOTO_VERSION = '5.2.5';

const STARTUP_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

/** Where the shared-per-test-run moto writes `{ endpoint, pid }` (see moto-global.ts). */
export function sharedRunFile(): string {
  return join(cacheRoot(), 'run', 'moto.json');
}

// moto_server's entry point plus a thread that exits once stdin reaches EOF. stdin is a pipe
// from the Node process that started it, so moto dies with that process however it ends,
// even by SIGKILL or a test runner's timeout, and never lingers holding a port.
const MOTO_WITH_LIFELINE = [
  'import os, sys, threading',
  'from moto.server import main',
  'threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()',
  'main(sys.argv[1:])',
].join('\n');

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The virtualenv with moto, installed once (python-venv.ts). */
function ensureMotoVenv(): Promise<string> {
  return ensureVenv({ name: 'moto-venv', requirement: `moto[server]==${MOTO_VERSION}`, marker: '.moto-version', stamp: MOTO_VERSION });
}

/** Asks the OS for a port nobody listens on; moto binds it a moment later. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

/** True once the server answers any HTTP request (moto's own dashboard route). */
function answers(endpoint: string): Promise<boolean> {
  return new Promise((done) => {
    const req = request(`${endpoint}/moto-api/`, { timeout: 1_000 }, (res) => {
      res.resume();
      done(true);
    });
    req.once('error', () => done(false));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

/** SIGTERM, then SIGKILL if the process is still there after a grace period. */
export async function stopProcess(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export interface MotoStartOptions {
  /** Let the server outlive this Node process (the shared-per-test-run mode); else it dies with it. */
  detached?: boolean;
}

export class MotoServer {
  private constructor(
    readonly endpoint: string,
    readonly pid: number,
    readonly logFile: string,
  ) {}

  static async start(options: MotoStartOptions = {}): Promise<MotoServer> {
    const venv = await ensureMotoVenv();
    const port = await freePort();
    const logDir = join(cacheRoot(), 'logs');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, `moto-${port}.log`);
    const log = openSync(logFile, 'w');
    const args = ['-H', '127.0.0.1', '-p', String(port)];
    const child = options.detached
      ? spawn(join(venv, 'bin', 'moto_server'), args, { detached: true, stdio: ['ignore', log, log] })
      : spawn(join(venv, 'bin', 'python'), ['-c', MOTO_WITH_LIFELINE, ...args], { stdio: ['pipe', log, log] });
    closeSync(log);
    if (child.pid === undefined) throw new Error(`moto_server did not start; see ${logFile}`);
    // Never keep the event loop alive for moto: a test process ends when its tests do.
    child.unref();
    (child.stdin as Socket | null)?.unref();

    const server = new MotoServer(`http://127.0.0.1:${port}`, child.pid, logFile);
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (!(await answers(server.endpoint))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await server.stop();
        throw new Error(`moto_server did not answer on ${server.endpoint}; see ${logFile}`);
      }
      await sleep(100);
    }
    return server;
  }

  async stop(): Promise<void> {
    await stopProcess(this.pid);
  }
}

let endpointForTests: Promise<string> | undefined;

/**
 * The moto endpoint a test file should use, in order of preference: `AWS_ENDPOINT_URL`
 * (an emulator someone else runs), the shared server of this test run (moto-global.ts),
 * else one started for this process alone, which ends with the process.
 */
export function motoEndpointForTests(): Promise<string> {
  endpointForTests ??= resolveEndpointForTests();
  return endpointForTests;
}

async function resolveEndpointForTests(): Promise<string> {
  if (process.env.AWS_ENDPOINT_URL) return process.env.AWS_ENDPOINT_URL;
  const shared = readFileSafe(sharedRunFile());
  if (shared) {
    const { endpoint, pid } = JSON.parse(shared) as { endpoint: string; pid: number };
    if (isAlive(pid) && (await answers(endpoint))) return endpoint;
  }
  return (await MotoServer.start()).endpoint;
}
