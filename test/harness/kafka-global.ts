/**
 * One Kafka broker shared by a whole test run.
 *
 *   node dist/test/harness/kafka-global.js start   # prints the bootstrap list, e.g. 127.0.0.1:40123
 *   node dist/test/harness/kafka-global.js stop
 *
 * `start` leaves the broker running detached and records it in `<cache>/run/kafka.json`;
 * `stop` stops the recorded broker. Test files call kafkaBrokersForTests().
 * tap's --before/--after run a script without arguments, so a test script wraps tap instead:
 * `start`, then `trap '… stop' EXIT`, then tap; the trap stops the broker even when tests fail.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheRoot } from './cache-dir';
import { isAlive, KafkaBroker, stopBrokerProcess } from './kafka-broker';

export interface SharedBroker {
  brokers: string[];
  pid: number;
  logDir: string;
}

function runDir(): string {
  return join(cacheRoot(), 'run');
}

function stateFile(): string {
  return join(runDir(), 'kafka.json');
}

async function readSharedBroker(): Promise<SharedBroker | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(), 'utf8')) as SharedBroker;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Whether pid is still the recorded broker. A pid is reused once its process is
 * gone, so where /proc shows the command line, it must be a Kafka broker's.
 */
function isBrokerProcess(pid: number): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) {
    return existsSync(cmdline) && readFileSync(cmdline, 'utf8').includes('kafka.Kafka');
  }
  return isAlive(pid);
}

/** Starts the shared broker, or returns the one already running. */
export async function startSharedBroker(): Promise<SharedBroker> {
  const running = await readSharedBroker();
  if (running && isBrokerProcess(running.pid)) return running;

  // Each run starts from empty data; the folder stays after `stop` so its broker.log can be read.
  const logDir = join(runDir(), 'kafka');
  await rm(logDir, { recursive: true, force: true });
  const broker = await KafkaBroker.start({ logDir, detached: true });
  const shared: SharedBroker = { brokers: broker.brokers, pid: broker.pid ?? 0, logDir };
  const partial = `${stateFile()}.${process.pid}`;
  await mkdir(runDir(), { recursive: true });
  await writeFile(partial, `${JSON.stringify(shared, null, 2)}\n`);
  await rename(partial, stateFile());
  return shared;
}

/** Stops the shared broker if one is recorded; returns whether there was one. */
export async function stopSharedBroker(): Promise<boolean> {
  const shared = await readSharedBroker();
  if (!shared) return false;
  const wasRunning = isBrokerProcess(shared.pid);
  if (wasRunning) await stopBrokerProcess(shared.pid);
  await rm(stateFile(), { force: true });
  return wasRunning;
}

let brokerOfThisProcess: Promise<string[]> | undefined;

/**
 * Bootstrap addresses of the Kafka broker tests should use: `$KAFKA_BROKERS`
 * (comma-separated) when set, else the shared broker of this run, else a broker
 * started for this process alone. KafkaBroker kills that one when the process
 * exits and deletes its data, which nothing else reads.
 */
export async function kafkaBrokersForTests(): Promise<string[]> {
  const fromEnv = (process.env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((address) => address.trim())
    .filter((address) => address !== '');
  if (fromEnv.length > 0) return fromEnv;

  const shared = await readSharedBroker();
  if (shared && isBrokerProcess(shared.pid)) return shared.brokers;

  brokerOfThisProcess ??= KafkaBroker.start().then((broker) => broker.brokers);
  return brokerOfThisProcess;
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'start': {
      const shared = await startSharedBroker();
      process.stderr.write(`Kafka broker ${shared.brokers.join(',')} (pid ${shared.pid}), log in ${shared.logDir}\n`);
      process.stdout.write(`${shared.brokers.join(',')}\n`);
      return;
    }
    case 'stop':
      process.stderr.write((await stopSharedBroker()) ? 'Kafka broker stopped\n' : 'no Kafka broker was running\n');
      return;
    default:
      process.stderr.write('usage: node dist/test/harness/kafka-global.js start|stop\n');
      process.exitCode = 2;
  }
}

if (require.main === module) {
  main(process.argv[2]).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
