import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT, TEST_KEYS_ENV } from './gateway';

export const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

export interface ServeProcess {
  child: ChildProcess;
  base: string;
  admin: string;
  output: () => string;
  /** SIGTERM and the exit code. */
  stop: () => Promise<number | null>;
}

/**
 * `node dist/src/cli.js serve` (what `npm start` runs) on free loopback ports; resolves once
 * ready. KAFKA_BROKERS and FIREHOSE_STREAMS, which point the test run at its services, are not
 * passed on unless `env` sets them: they would add destinations to the gateway's routes.
 */
export async function startServe(env: Record<string, string>, args: string[] = []): Promise<ServeProcess> {
  const [port, adminPort] = [await freePort(), await freePort()];
  let output = '';
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    cwd: PROJECT_ROOT,
    // One process unless a test asks for workers: the tests read its files and spool where one
    // process puts them. None of the run's KAFKA_* or FIREHOSE_* (they would add destinations)
    // unless the test passes them.
    env: { ...withoutDestinationEnv(process.env), ...TEST_KEYS_ENV, GATEWAY_HOST: '127.0.0.1', GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_PORT: String(port), GATEWAY_ADMIN_PORT: String(adminPort), GATEWAY_WORKERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const deadline = Date.now() + 30000;
  while (!output.includes('tracking-gateway ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    admin: `http://127.0.0.1:${adminPort}`,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

function withoutDestinationEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !/^(KAFKA_|FIREHOSE_)/.test(name)));
}
