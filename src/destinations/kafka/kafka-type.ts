import type { DestinationType } from '../destination-type';
import { KAFKA, kafkaSchema, kafkaTopicOptions } from './config';
import { KafkaDestination } from './kafka-destination';
import { kafkaEnv } from './kafka-env';
import { kafkaMetrics, type KafkaMetrics } from './kafka-metrics';
import { BROKER_MESSAGE_MAX_BYTES_DEFAULT, MAX_IN_FLIGHT_REQUESTS_DEFAULT, MAX_IN_FLIGHT_REQUESTS_MAX, REQUEST_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_MAX, REQUEST_TIMEOUT_MS_MIN } from './limits';

/** Kafka clusters (`type: kafka`), set by the config file or KAFKA_*. */
export const kafkaType: DestinationType<typeof kafkaSchema, KafkaMetrics, typeof kafkaTopicOptions> = {
  type: KAFKA,
  schema: kafkaSchema,
  env: kafkaEnv,
  topicOptions: kafkaTopicOptions,
  /**
   * Clamps the entry to Kafka's limits: a batch is never larger than one record batch the
   * broker takes, so no partition of one flush can be refused as a whole for its size, before
   * compression even helps. Mutates the entry, which is not frozen yet.
   */
  finish(entry, batch) {
    const maxMessageBytes = entry.maxMessageBytes ?? BROKER_MESSAGE_MAX_BYTES_DEFAULT;
    if (batch.maxBytes > maxMessageBytes) entry.batch = { ...entry.batch, maxBytes: maxMessageBytes };
    entry.requestTimeoutMs = Math.min(Math.max(entry.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_MIN), REQUEST_TIMEOUT_MS_MAX);
    entry.maxInFlightRequests = Math.min(Math.max(entry.maxInFlightRequests ?? MAX_IN_FLIGHT_REQUESTS_DEFAULT, 1), MAX_IN_FLIGHT_REQUESTS_MAX);
    return [];
  },
  metrics: kafkaMetrics,
  create: (name, entry, { metrics, gatewayMetrics }) => new KafkaDestination(name, entry, metrics, gatewayMetrics),
};
