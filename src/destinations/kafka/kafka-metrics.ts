import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../metrics/metrics';

/** The Kafka destinations' own metrics, by destination name; made once per registry. */
export function kafkaMetrics(registry: Registry) {
  return {
    produceRequests: new Counter({
      name: `${METRIC_PREFIX}kafka_produce_requests_total`,
      help: 'Producer batches (one sendBatch per flush) sent to a Kafka destination, by outcome (acked, too_large, malformed, unavailable).',
      labelNames: ['destination', 'outcome'] as const,
      registers: [registry],
    }),
    inFlightRequests: new Gauge({
      name: `${METRIC_PREFIX}kafka_in_flight_requests`,
      help: 'Producer batches sent to a Kafka destination and not yet acknowledged by all in-sync replicas.',
      labelNames: ['destination'] as const,
      registers: [registry],
    }),
    connected: new Gauge({
      name: `${METRIC_PREFIX}kafka_connected`,
      help: '1 while the producer of a Kafka destination is connected and its topics exist (in every worker), else 0.',
      labelNames: ['destination'] as const,
      // A cluster's primary shows the lowest: 1 only when every worker is connected.
      aggregator: 'min',
      registers: [registry],
    }),
  };
}

export type KafkaMetrics = ReturnType<typeof kafkaMetrics>;
