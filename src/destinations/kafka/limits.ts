// Kafka's limits, each with the page that states it. Config is clamped to them once, when
// the gateway config is built (kafka-type.ts, finish), so that sends never meet them by surprise.

/**
 * Largest record batch a broker accepts by default (after compression), 1 MiB + 12 bytes of
 * batch overhead. Topics may lower or raise it with `max.message.bytes`.
 * https://kafka.apache.org/documentation/#brokerconfigs_message.max.bytes
 */
export const BROKER_MESSAGE_MAX_BYTES_DEFAULT = 1_048_588;

/**
 * Bytes a record batch adds around its records (header of the v2 record batch format), and a
 * generous bound on what one record adds around its key, value and headers (varint lengths,
 * attributes, timestamp and offset deltas).
 * https://kafka.apache.org/documentation/#recordbatch
 */
export const RECORD_BATCH_OVERHEAD_BYTES = 61;
export const RECORD_OVERHEAD_BYTES = 32;

/**
 * Topic names: at most 249 characters of [a-zA-Z0-9._-].
 * https://github.com/apache/kafka/blob/3.9.2/clients/src/main/java/org/apache/kafka/common/internals/Topic.java
 */
export const TOPIC_NAME_MAX_LENGTH = 249;

/**
 * The producer's wait for an acknowledgement; Kafka's own producer defaults to 30 s.
 * https://kafka.apache.org/documentation/#producerconfigs_request.timeout.ms
 */
export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
export const REQUEST_TIMEOUT_MS_MIN = 1_000;
export const REQUEST_TIMEOUT_MS_MAX = 300_000;

/**
 * Requests a producer keeps unanswered on one broker connection; Kafka's own producer
 * defaults to 5 and keeps order on retries only up to 5, so that is also the bound.
 * https://kafka.apache.org/documentation/#producerconfigs_max.in.flight.requests.per.connection
 */
export const MAX_IN_FLIGHT_REQUESTS_DEFAULT = 5;
export const MAX_IN_FLIGHT_REQUESTS_MAX = 5;
