// One moto server shared by every test file of a run, so each file does not pay moto's
// start-up: `node dist/test/harness/moto-global.js start` before the tests, `stop` after.
// Test files find it through motoEndpointForTests() in moto-server.ts.
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { MotoServer, sharedRunFile, stopProcess } from './moto-server';

async function start(): Promise<void> {
  const runFile = sharedRunFile();
  if (existsSync(runFile)) await stop();
  const server = await MotoServer.start({ detached: true });
  mkdirSync(dirname(runFile), { recursive: true });
  writeFileSync(runFile, JSON.stringify({ endpoint: server.endpoint, pid: server.pid }));
  console.log(`moto ${server.endpoint} (pid ${server.pid}, log ${server.logFile})`);
}

async function stop(): Promise<void> {
  const runFile = sharedRunFile();
  if (!existsSync(runFile)) return;
  const { pid } = JSON.parse(readFileSync(runFile, 'utf8')) as { pid: number };
  await stopProcess(pid);
  rmSync(runFile, { force: true });
}

const command = process.argv[2];
const run = command === 'start' ? start : command === 'stop' ? stop : undefined;
if (!run) {
  console.error('usage: node dist/test/harness/moto-global.js start|stop');
  process.exit(2);
}
run().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
