import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, compatibilityPartitioner, Producer, type BaseOptions, type SASLOptions } from '@platformatic/kafka';
import { Backoff } from '../../background/backoff';
import type { BackgroundTask } from '../../background/loop';
import type { GatewayEvent } from '../../envelope/envelope';
import type { GatewayMetrics } from '../../metrics/metrics';
import { DestinationError, encodeEach, perRecord, RETRYABLE, type Destination, type DestinationContext, type DestinationLog, type Misconfiguration, type RecordFailure } from '../destination';
import { DEFAULT_CLIENT_ID, DEFAULT_TOPIC_TEMPLATE, KAFKA, type KafkaConfig } from './config';
import { classifyKafkaError, kafkaErrorMessage, kafkaMisconfiguration, MissingKafkaTopicsError, onlyTopicsAlreadyExist } from './kafka-errors';
import { topicsSchemaIds } from '../../schema-registry/schema-id-source';
import { confluentPrefix, kafkaTopicName, kafkaTopicOf, recordBytes, toKafkaMessage, valueFormatOf, valueSubject, type KafkaMessage } from './kafka-message';
import type { KafkaMetrics } from './kafka-metrics';
import { BROKER_MESSAGE_MAX_BYTES_DEFAULT, MAX_IN_FLIGHT_REQUESTS_DEFAULT, REQUEST_TIMEOUT_MS_DEFAULT } from './limits';

/** Every in-sync replica: what a 2xx on the service endpoint promises. */
const ACKS_ALL = -1;
/** Wait between attempts to reconnect (and re-check topics) while the cluster is away. */
const RECONNECT_BASE_MS = 200;
const RECONNECT_MAX_MS = 5_000;
/**
 * The client retries retryable errors (leader moved, connection reset) within one send; a few
 * quick tries ride out a leader election, and then the router's own backoff takes over.
 */
const CLIENT_RETRIES = 3;
const clientRetryDelay = (_client: unknown, _operation: string, attempt: number) => Math.min(100 * 2 ** attempt, 1_000);
const CONNECTION_TIMEOUT_MS = 3_000;
/**
 * The broker waits up to the request timeout for the replicas (the produce request's own
 * `timeout`); the client waits a little longer for the answer, so that a slow broker's
 * REQUEST_TIMED_OUT reaches us rather than a socket-level guess.
 */
const CLIENT_WAIT_MARGIN_MS = 1_000;
/** Partitions of a topic just created wait this long at most for a leader before the first send. */
const LEADER_WAIT_MS = 10_000;
const LEADER_POLL_MS = 100;

/** The `task` of background_errors_total for a reconnect loop that failed unexpectedly. */
const RECONNECT_TASK: BackgroundTask = `${KAFKA}_reconnect`;

const SASL_MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

/** Where one gateway topic's events go on this cluster, and how their values are framed. */
interface KafkaTopicPlan {
  kafkaTopic: string;
  /** confluent-avro: version → the 5 bytes before each datum; absent: bare datums. */
  wirePrefixes?: Map<number, Buffer>;
}

interface OutgoingRecord {
  index: number;
  message: KafkaMessage;
}

/**
 * One Kafka cluster, through @platformatic/kafka. Each flush of the router's batcher is one
 * `send` across topics, resolved only once every in-sync replica has the records (acks=all).
 * The producer is not idempotent: a batch the router retries after a lost acknowledgement is
 * written again, so delivery is at least once and consumers deduplicate by `ce_id`.
 * Partitions are chosen as Java's producer (and kafkajs) chose them — murmur2 of the key,
 * masked positive — so a key keeps its partition across clients.
 */
export class KafkaDestination implements Destination {
  readonly type = KAFKA;
  readonly maxRecordBytes: number;
  private readonly clientOptions: BaseOptions;
  /** Records arrive as bytes (kafka-message.ts), so the client's default, no serialiser, is used. */
  private readonly producer: Producer;
  private readonly topicTemplate: string;
  /** `<service>/<topic>` → its Kafka topic and value framing, for the topics routed here. */
  private readonly plans = new Map<string, KafkaTopicPlan>();
  private connected = false;
  private problem: string | undefined;
  private misconfigured: Misconfiguration | undefined;
  private reconnecting: Promise<void> | undefined;
  private readonly closing = new AbortController();
  private log: DestinationLog | undefined;
  private readonly connectedGauge;
  private readonly inFlightGauge;
  private readonly acked;

  constructor(
    readonly name: string,
    private readonly config: Readonly<KafkaConfig>,
    private readonly metrics: KafkaMetrics,
    private readonly gatewayMetrics: GatewayMetrics,
  ) {
    const maxMessageBytes = config.maxMessageBytes ?? BROKER_MESSAGE_MAX_BYTES_DEFAULT;
    this.maxRecordBytes = maxMessageBytes;
    this.topicTemplate = config.topic ?? DEFAULT_TOPIC_TEMPLATE;
    this.clientOptions = {
      clientId: config.clientId ?? DEFAULT_CLIENT_ID,
      bootstrapBrokers: [...config.brokers],
      tls: config.ssl ? {} : undefined,
      sasl: config.sasl ? ({ ...config.sasl, mechanism: SASL_MECHANISMS[config.sasl.mechanism] } as SASLOptions) : undefined,
      connectTimeout: CONNECTION_TIMEOUT_MS,
      timeout: this.requestTimeoutMs,
      requestTimeout: this.requestTimeoutMs + CLIENT_WAIT_MARGIN_MS,
      retries: CLIENT_RETRIES,
      retryDelay: clientRetryDelay,
      maxInflights: config.maxInFlightRequests ?? MAX_IN_FLIGHT_REQUESTS_DEFAULT,
      autocreateTopics: false,
    };
    this.producer = new Producer({
      ...this.clientOptions,
      acks: ACKS_ALL,
      idempotent: false,
      compression: config.compression ?? 'gzip',
      partitioner: compatibilityPartitioner,
    });
    this.connectedGauge = metrics.connected.labels(name);
    this.inFlightGauge = metrics.inFlightRequests.labels(name);
    this.acked = metrics.produceRequests.labels(name, 'acked');
    this.connectedGauge.set(0);
    this.inFlightGauge.set(0);
  }

  /** Connects and checks the routed topics; when the cluster is away, keeps trying in the background. */
  async start({ topics, log, schemaIds = topicsSchemaIds }: DestinationContext): Promise<void> {
    this.log = log;
    for (const topic of topics) {
      const kafkaTopic = kafkaTopicOf(topic, this.topicTemplate);
      const plan: KafkaTopicPlan = { kafkaTopic };
      if (valueFormatOf(topic, this.config.valueFormat) === 'confluent-avro') {
        // Rejects (the gateway does not start) when a version has no id or the registry refuses it.
        const ids = await schemaIds.idsFor(valueSubject(kafkaTopic), topic);
        plan.wirePrefixes = new Map([...ids].map(([version, id]) => [version, confluentPrefix(id)]));
      }
      this.plans.set(`${topic.service}/${topic.name}`, plan);
    }
    if (!(await this.connect())) this.reconnectInBackground();
  }

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    if (!this.connected) throw new DestinationError('unavailable', `Kafka ${this.name}: ${this.problem ?? 'not connected'}`);
    const failures: RecordFailure[] = [];
    const records: OutgoingRecord[] = [];
    const encode = (event: GatewayEvent) => this.messageOf(event);
    for (const { index, value: message } of encodeEach(events, encode, failures)) {
      const bytes = recordBytes(message);
      if (bytes > this.maxRecordBytes) {
        failures.push({ index, kind: 'too_large', message: `record of ${bytes} bytes is over the brokers' message.max.bytes (${this.maxRecordBytes})` });
      } else {
        records.push({ index, message });
      }
    }
    await this.produce(records, failures);
    // A cluster that took nothing (connection lost mid-send) failed the batch as a whole.
    return perRecord(failures, events.length);
  }

  isHealthy(): boolean {
    return this.connected;
  }

  misconfiguration(): Misconfiguration | undefined {
    return this.misconfigured;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.reconnecting;
    this.setConnected(false, 'closed');
    await this.producer.close();
  }

  private get requestTimeoutMs(): number {
    return this.config.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
  }

  private kafkaTopicNames(): string[] {
    return [...new Set([...this.plans.values()].map((plan) => plan.kafkaTopic))];
  }

  private messageOf(event: GatewayEvent): KafkaMessage {
    const { service, topic, version } = event.schema;
    const plan = this.plans.get(`${service}/${topic}`);
    if (plan === undefined) {
      // A topic not routed here at start: its values cannot carry an id nobody resolved.
      if (this.config.valueFormat === 'confluent-avro') throw new Error(`${service}/${topic} was not routed to ${this.name} at start, so it has no schema id here`);
      return toKafkaMessage(event, kafkaTopicName(service, topic, this.topicTemplate));
    }
    if (plan.wirePrefixes === undefined) return toKafkaMessage(event, plan.kafkaTopic);
    const prefix = plan.wirePrefixes.get(version);
    if (prefix === undefined) throw new Error(`${service}/${topic} v${version} has no schema id on ${this.name}`);
    return toKafkaMessage(event, plan.kafkaTopic, prefix);
  }

  /**
   * Sends records and adds a failure for each one not taken. A broker refuses a partition's
   * batch as a whole when it is over its size limit, so such a batch is halved until the
   * record at fault stands alone and only that one is too large.
   */
  private async produce(records: OutgoingRecord[], failures: RecordFailure[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.sendBatch(records);
    } catch (err) {
      const kind = classifyKafkaError(err);
      if (kind === 'too_large' && records.length > 1) {
        const half = Math.ceil(records.length / 2);
        await this.produce(records.slice(0, half), failures);
        await this.produce(records.slice(half), failures);
        return;
      }
      const message = kafkaErrorMessage(err);
      if (RETRYABLE[kind]) {
        this.noteMisconfiguration(err, message);
        this.setConnected(false, message);
        this.reconnectInBackground();
      }
      for (const record of records) failures.push({ index: record.index, kind, message });
    }
  }

  private async sendBatch(records: OutgoingRecord[]): Promise<void> {
    this.inFlightGauge.inc();
    try {
      await this.producer.send({ messages: records.map((record) => record.message) });
      this.acked.inc();
    } catch (err) {
      this.metrics.produceRequests.labels(this.name, classifyKafkaError(err)).inc();
      throw err;
    } finally {
      this.inFlightGauge.dec();
    }
  }

  /** One attempt to connect and find (or create) the routed topics; true when ready to send. */
  private async connect(): Promise<boolean> {
    try {
      await this.ensureTopics();
      // The producer's own view of the cluster, fresh: its sends go where this says.
      await this.producer.metadata({ topics: this.kafkaTopicNames(), forceUpdate: true });
      this.misconfigured = undefined;
      this.setConnected(true);
      return true;
    } catch (err) {
      this.noteMisconfiguration(err, kafkaErrorMessage(err));
      this.setConnected(false, kafkaErrorMessage(err));
      return false;
    }
  }

  private reconnectInBackground(): void {
    if (this.reconnecting || this.closing.signal.aborted) return;
    const backoff = new Backoff(RECONNECT_BASE_MS, RECONNECT_MAX_MS);
    this.reconnecting = (async () => {
      while (!this.closing.signal.aborted) {
        const aborted = await sleep(backoff.next(), false, { signal: this.closing.signal, ref: false }).catch(() => true);
        if (aborted || (await this.connect())) return;
      }
    })()
      .catch((err: unknown) => {
        // connect() reports its own failures; anything else is a bug, which must not end the process.
        this.gatewayMetrics.backgroundErrors.labels(RECONNECT_TASK).inc();
        this.log?.error({ task: RECONNECT_TASK, destination: this.name, err }, `Kafka ${this.name}: reconnecting failed; the next send tries again`);
      })
      .finally(() => (this.reconnecting = undefined));
  }

  private async ensureTopics(): Promise<void> {
    const wanted = this.kafkaTopicNames();
    if (wanted.length === 0) return;
    const admin = new Admin(this.clientOptions);
    try {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((topic) => !existing.has(topic));
      if (missing.length === 0) return;
      const create = this.config.createTopics;
      if (!create?.enabled) throw new MissingKafkaTopicsError(missing);
      // Workers and pods start together: the one that loses the race to create a topic finds it made.
      await admin.createTopics({ topics: missing, partitions: create.numPartitions ?? -1, replicas: create.replicationFactor ?? -1 }).catch((err: unknown) => {
        if (!onlyTopicsAlreadyExist(err)) throw err;
      });
      await this.waitForLeaders(admin, missing);
      this.log?.info({ destination: this.name, topics: missing }, 'created Kafka topics');
    } finally {
      await admin.close();
    }
  }

  /** A topic just created has partitions without a leader for a moment; sends would only be retried. */
  private async waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    while (Date.now() < deadline && !this.closing.signal.aborted) {
      const metadata = await admin.metadata({ topics, forceUpdate: true });
      const led = topics.every((topic) => {
        const partitions = metadata.topics.get(topic)?.partitions ?? [];
        return partitions.length > 0 && partitions.every((partition) => partition.leader >= 0);
      });
      if (led) return;
      await sleep(LEADER_POLL_MS);
    }
  }

  /** Keeps what a failure says about the settings until a connection succeeds (a cluster only away says nothing new). */
  private noteMisconfiguration(err: unknown, message: string): void {
    const reason = kafkaMisconfiguration(err);
    if (reason) this.misconfigured = { reason, message };
  }

  /** Records the connection state; logs only its changes, so a long outage is one line. */
  private setConnected(connected: boolean, problem?: string): void {
    const changed = connected !== this.connected || problem !== this.problem;
    this.connected = connected;
    this.problem = problem;
    this.connectedGauge.set(connected ? 1 : 0);
    if (!changed || this.closing.signal.aborted) return;
    if (connected) this.log?.info({ destination: this.name, brokers: this.config.brokers }, 'Kafka connected');
    else this.log?.warn({ destination: this.name, brokers: this.config.brokers, problem }, 'Kafka unavailable; events wait in memory and are retried');
  }
}
