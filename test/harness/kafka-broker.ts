import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { type KafkaClasspath, kafkaClasspath } from './kafka-classpath';

export interface KafkaBrokerOptions {
  /**
   * Folder for the broker's data (`data/`), `server.properties` and `broker.log`.
   * Default: a new temporary folder, deleted when this process exits.
   */
  logDir?: string;
  /** Broker settings that override or add to the harness defaults. */
  brokerProperties?: Record<string, string>;
  /**
   * Keep the broker running after this process exits (own process group, no exit
   * hook), for a broker shared by a whole test run; see kafka-global.ts.
   */
  detached?: boolean;
}

const HOST = '127.0.0.1';
const NODE_ID = '1';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 250;
const LOG_TAIL_LINES = 80;

const JVM_OPTIONS = [
  '-Xms128m',
  '-Xmx512m',
  // A test broker lives for seconds or minutes, so start-up time matters more than
  // peak throughput: one GC thread, and the quick C1 compiler only.
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Djava.awt.headless=true',
];

/**
 * A single-node Apache Kafka broker in KRaft mode (one process is both broker and
 * controller), run from the Maven Central jars with the local `java`, for tests.
 */
export class KafkaBroker {
  /** Bootstrap addresses for clients, e.g. `['127.0.0.1:40123']`. */
  readonly brokers: string[];
  private child: ChildProcess | undefined;

  private constructor(
    private readonly classpath: KafkaClasspath,
    readonly logDir: string,
    port: number,
    private readonly ownsLogDir: boolean,
    private readonly detached: boolean,
  ) {
    this.brokers = [`${HOST}:${port}`];
    if (!detached) cleanupsAtExit.add(() => this.killAndCleanUpSync());
  }

  static async start(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
    const classpath = await kafkaClasspath();
    const ownsLogDir = opts.logDir === undefined;
    const logDir = opts.logDir ?? (await mkdtemp(join(tmpdir(), 'kafka-broker-')));
    await mkdir(logDir, { recursive: true });
    const [port, controllerPort] = await freePorts(2);
    const properties = {
      ...defaultProperties(logDir, port, controllerPort),
      ...opts.brokerProperties,
    };
    await writeFile(join(logDir, 'server.properties'), toPropertiesFile(properties));

    const broker = new KafkaBroker(classpath, logDir, port, ownsLogDir, opts.detached ?? false);
    // A log dir that already holds a broker's data is started as it is, data kept.
    if (!existsSync(join(properties['log.dirs'], 'meta.properties'))) await broker.formatStorage();
    await broker.launch();
    return broker;
  }

  /** The broker's process id while it runs. */
  get pid(): number | undefined {
    return this.isRunning() ? this.child?.pid : undefined;
  }

  /** Stops the broker cleanly (SIGTERM), or with SIGKILL if it has not exited in time. Keeps its data. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.isRunning()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    // The child is unref'd, so this timer is what keeps the process alive until the broker has exited.
    const timer = new AbortController();
    const timedOut = await Promise.race([
      exited.then(() => false),
      sleep(STOP_TIMEOUT_MS, true, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (timedOut) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Starts a stopped broker again on the same port with the same data. */
  async startAgain(): Promise<void> {
    if (this.isRunning()) throw new Error(`Kafka broker ${this.brokers[0]} is already running`);
    await this.launch();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startAgain();
  }

  private isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private get propertiesFile(): string {
    return join(this.logDir, 'server.properties');
  }

  private get logFile(): string {
    return join(this.logDir, 'broker.log');
  }

  private spawnJava(mainClass: string, args: string[]): ChildProcess {
    // The broker writes straight to the file, not through a pipe to us, so a
    // detached broker keeps logging after this process is gone.
    const log = openSync(this.logFile, 'a');
    try {
      return spawn(
        'java',
        [
          ...JVM_OPTIONS,
          `-Dlog4j.configuration=file:${this.classpath.log4jConfig}`,
          '-cp',
          join(this.classpath.libs, '*'),
          mainClass,
          ...args,
        ],
        { stdio: ['ignore', log, log], detached: this.detached },
      );
    } finally {
      closeSync(log);
    }
  }

  private async formatStorage(): Promise<void> {
    const tool = this.spawnJava('kafka.tools.StorageTool', [
      'format',
      '--cluster-id',
      newClusterId(),
      '--config',
      this.propertiesFile,
    ]);
    const code = await new Promise<number | string>((resolve) => {
      tool.once('error', (err) => resolve(err.message));
      tool.once('exit', (exitCode, signal) => resolve(exitCode ?? String(signal)));
    });
    if (code !== 0) throw this.failure(`formatting Kafka storage failed (${code})`);
  }

  private async launch(): Promise<void> {
    const child = this.spawnJava('kafka.Kafka', [this.propertiesFile]);
    this.child = child;
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    // A running broker must not keep this process alive: tests end when their work
    // does, and an attached broker is then killed by the exit hook below.
    child.unref();

    const kafka = new Kafka({
      clientId: 'kafka-broker-harness',
      brokers: this.brokers,
      connectionTimeout: 1_000,
      retry: { retries: 0 },
      // Refused connections are expected until the broker listens; the log file tells the rest.
      logLevel: logLevel.NOTHING,
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (spawnError) throw this.failure(`could not run java: ${spawnError.message}`);
      if (!this.isRunning()) {
        throw this.failure(`Kafka broker exited during start (${child.exitCode ?? child.signalCode})`);
      }
      if (await acceptsRequests(kafka)) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw this.failure(`Kafka broker did not answer within ${START_TIMEOUT_MS} ms`);
      }
      await sleep(READY_POLL_MS);
    }
  }

  private failure(message: string): Error {
    let tail = '';
    try {
      tail = readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
    } catch {
      tail = '(no broker log)';
    }
    return new Error(`${message}\n--- last lines of ${this.logFile} ---\n${tail}`);
  }

  /** Last resort at process exit: a test that forgot stop() must not leave a JVM behind. */
  private killAndCleanUpSync(): void {
    if (this.isRunning()) this.child?.kill('SIGKILL');
    if (this.ownsLogDir) rmSync(this.logDir, { recursive: true, force: true });
  }
}

/**
 * Stops a broker this process did not start, e.g. the one kafka-global.ts left
 * running: SIGTERM, then SIGKILL if it has not exited in time.
 */
export async function stopBrokerProcess(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  let killed = false;
  while (isAlive(pid)) {
    if (!killed && Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      killed = true;
    }
    await sleep(100);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Synchronous work only: 'exit' listeners cannot wait.
const cleanupsAtExit = new Set<() => void>();
function cleanUpAtExit(): void {
  for (const cleanup of cleanupsAtExit) cleanup();
  cleanupsAtExit.clear();
}
process.once('exit', cleanUpAtExit);
// A signal ends the process without 'exit' (tap sends SIGTERM to a test file that
// timed out), which would leave the JVM running. Clean up, then, if nobody else
// handles the signal, raise it again so the process dies of it as it would have.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, function onSignal() {
    cleanUpAtExit();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function defaultProperties(logDir: string, port: number, controllerPort: number): Record<string, string> {
  return {
    'process.roles': 'broker,controller',
    'node.id': NODE_ID,
    'controller.quorum.voters': `${NODE_ID}@${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(logDir, 'data'),
    // One broker: the internal topics cannot have more than one replica.
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    // Fewer internal partitions to create and load, so the first consumer group is quick.
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.num.partitions': '1',
    // Tests start one consumer at a time; waiting for more members only slows them.
    'group.initial.rebalance.delay.ms': '0',
  };
}

function toPropertiesFile(properties: Record<string, string>): string {
  return Object.entries(properties)
    .map(([key, value]) => `${key}=${value.replaceAll('\\', '\\\\')}\n`)
    .join('');
}

/** A Kafka Uuid as StorageTool expects it: 16 random bytes, base64url without padding. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka's own Uuid.randomUuid() rejects these too: a command line would read them as options.
    if (!id.startsWith('-')) return id;
  }
}

/** Ports free right now on HOST; all held open together so they are distinct. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, HOST, () => resolve());
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('listening socket has no port');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

async function acceptsRequests(kafka: Kafka): Promise<boolean> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
