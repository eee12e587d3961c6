import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../../background/backoff';
import { CompressionTypes, Kafka, logLevel, type Message, type Producer, type SASLOptions, type TopicMessages } from 'kafkajs';
import type { GatewayEvent } from '../../envelope/envelope';
import type { GatewayMetrics } from '../../metrics/metrics';
import { DestinationError, encodeEach, RETRYABLE, type Destination, type DestinationContext, type DestinationLog, type RecordFailure } from '../destination';
import { DEFAULT_CLIENT_ID, DEFAULT_TOPIC_TEMPLATE, type KafkaDestinationConfig } from './config';
import { classifyKafkaError, kafkaErrorMessage } from './kafka-errors';
import { kafkaTopicName, kafkaTopicOf, recordBytes, toKafkaMessage } from './kafka-message';
import { BROKER_MESSAGE_MAX_BYTES_DEFAULT, MAX_IN_FLIGHT_REQUESTS_DEFAULT, REQUEST_TIMEOUT_MS_DEFAULT } from './limits';

/** Every in-sync replica: what a 2xx on the service endpoint promises. */
const ACKS_ALL = -1;
/** Wait between attempts to reconnect (and re-check topics) while the cluster is away. */
const RECONNECT_BASE_MS = 200;
const RECONNECT_MAX_MS = 5_000;
/**
 * kafkajs retries retryable errors (leader moved, connection reset) within one send; a few
 * quick tries ride out a leader election, and then the router's own backoff takes over.
 */
const CLIENT_RETRY = { initialRetryTime: 100, maxRetryTime: 1_000, retries: 3 };
const CONNECTION_TIMEOUT_MS = 3_000;

interface OutgoingRecord {
  index: number;
  topic: string;
  message: Message;
}

/**
 * One Kafka cluster. Each flush of the router's batcher is one `sendBatch` across topics,
 * resolved only once every in-sync replica has the records (acks=all). The producer is not
 * idempotent: a batch the router retries after a lost acknowledgement is written again, so
 * delivery is at least once and consumers deduplicate by `ce_id`.
 */
export class KafkaDestination implements Destination {
  readonly type = 'kafka';
  readonly maxRecordBytes: number;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly topicTemplate: string;
  /** `<service>/<topic>` → Kafka topic, for the topics routed here. */
  private readonly kafkaTopics = new Map<string, string>();
  private connected = false;
  private problem: string | undefined;
  private reconnecting: Promise<void> | undefined;
  private readonly closing = new AbortController();
  private log: DestinationLog | undefined;
  private readonly connectedGauge;
  private readonly inFlightGauge;
  private readonly acked;

  constructor(
    readonly name: string,
    private readonly config: Readonly<KafkaDestinationConfig>,
    private readonly metrics: GatewayMetrics,
  ) {
    const maxMessageBytes = config.maxMessageBytes ?? BROKER_MESSAGE_MAX_BYTES_DEFAULT;
    this.maxRecordBytes = maxMessageBytes;
    this.topicTemplate = config.topic ?? DEFAULT_TOPIC_TEMPLATE;
    this.kafka = new Kafka({
      clientId: config.clientId ?? DEFAULT_CLIENT_ID,
      brokers: [...config.brokers],
      ssl: config.ssl ?? false,
      sasl: config.sasl ? ({ ...config.sasl } as SASLOptions) : undefined,
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: this.requestTimeoutMs,
      retry: CLIENT_RETRY,
      // Connection trouble is reported once per change of state through our own log.
      logLevel: logLevel.NOTHING,
    });
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      maxInFlightRequests: config.maxInFlightRequests ?? MAX_IN_FLIGHT_REQUESTS_DEFAULT,
      retry: CLIENT_RETRY,
    });
    this.connectedGauge = metrics.kafkaConnected.labels(name);
    this.inFlightGauge = metrics.kafkaInFlightRequests.labels(name);
    this.acked = metrics.kafkaProduceRequests.labels(name, 'acked');
    this.connectedGauge.set(0);
    this.inFlightGauge.set(0);
  }

  /** Connects and checks the routed topics; when the cluster is away, keeps trying in the background. */
  async start({ topics, log }: DestinationContext): Promise<void> {
    this.log = log;
    for (const topic of topics) this.kafkaTopics.set(`${topic.service}/${topic.name}`, kafkaTopicOf(topic, this.topicTemplate));
    if (!(await this.connect())) this.reconnectInBackground();
  }

  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    if (!this.connected) throw new DestinationError('unavailable', `Kafka ${this.name}: ${this.problem ?? 'not connected'}`);
    const failures: RecordFailure[] = [];
    const records: OutgoingRecord[] = [];
    for (const { index, value: message } of encodeEach(events, toKafkaMessage, failures)) {
      const bytes = recordBytes(message);
      if (bytes > this.maxRecordBytes) {
        failures.push({ index, kind: 'too_large', message: `record of ${bytes} bytes is over the brokers' message.max.bytes (${this.maxRecordBytes})` });
      } else {
        records.push({ index, topic: this.kafkaTopicFor(events[index]), message });
      }
    }
    await this.produce(records, failures);
    return failures;
  }

  isHealthy(): boolean {
    return this.connected;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.reconnecting;
    this.setConnected(false, 'closed');
    await this.producer.disconnect();
  }

  private get requestTimeoutMs(): number {
    return this.config.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
  }

  private kafkaTopicFor(event: GatewayEvent): string {
    const { service, topic } = event.schema;
    return this.kafkaTopics.get(`${service}/${topic}`) ?? kafkaTopicName(service, topic, this.topicTemplate);
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
        this.setConnected(false, message);
        this.reconnectInBackground();
      }
      for (const record of records) failures.push({ index: record.index, kind, message });
    }
  }

  private async sendBatch(records: OutgoingRecord[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of records) {
      const messages = byTopic.get(topic);
      if (messages) messages.push(message);
      else byTopic.set(topic, [message]);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    this.inFlightGauge.inc();
    try {
      await this.producer.sendBatch({
        topicMessages,
        acks: ACKS_ALL,
        timeout: this.requestTimeoutMs,
        compression: this.config.compression === 'none' ? CompressionTypes.None : CompressionTypes.GZIP,
      });
      this.acked.inc();
    } catch (err) {
      this.metrics.kafkaProduceRequests.labels(this.name, classifyKafkaError(err)).inc();
      throw err;
    } finally {
      this.inFlightGauge.dec();
    }
  }

  /** One attempt to connect and find (or create) the routed topics; true when ready to send. */
  private async connect(): Promise<boolean> {
    try {
      await this.producer.connect();
      await this.ensureTopics();
      this.setConnected(true);
      return true;
    } catch (err) {
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
        this.metrics.backgroundErrors.labels('kafka_reconnect').inc();
        this.log?.error({ task: 'kafka_reconnect', destination: this.name, err }, `Kafka ${this.name}: reconnecting failed; the next send tries again`);
      })
      .finally(() => (this.reconnecting = undefined));
  }

  private async ensureTopics(): Promise<void> {
    const wanted = [...new Set(this.kafkaTopics.values())];
    if (wanted.length === 0) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((topic) => !existing.has(topic));
      if (missing.length === 0) return;
      const create = this.config.createTopics;
      if (!create?.enabled) throw new Error(`Kafka topics missing: ${missing.join(', ')} (create them, or set createTopics.enabled)`);
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: create.numPartitions ?? -1, replicationFactor: create.replicationFactor ?? -1 })),
      });
      this.log?.info({ destination: this.name, topics: missing }, 'created Kafka topics');
    } finally {
      await admin.disconnect();
    }
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
