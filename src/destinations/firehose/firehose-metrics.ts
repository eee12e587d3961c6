import { Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../metrics/metrics';

/** The Firehose destinations' own metrics, by destination name; made once per registry. */
export function firehoseMetrics(registry: Registry) {
  return {
    eventsPerRecord: new Histogram({
      name: `${METRIC_PREFIX}firehose_events_per_record`,
      help: 'Events packed into one delivered Firehose record (the packing ratio).',
      labelNames: ['destination'] as const,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [registry],
    }),
  };
}

export type FirehoseMetrics = ReturnType<typeof firehoseMetrics>;
