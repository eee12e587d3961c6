import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../metrics/metrics';

/** Outcomes of one PutRecords call (`put_records_calls_total`). */
export type PutRecordsOutcome = 'ok' | 'partial' | 'throttled' | 'unavailable' | 'malformed';

/**
 * The per-record ErrorCodes PutRecords documents, and `other` for anything else, so the label
 * set stays bounded whatever the service answers.
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsResultEntry.html
 */
const KNOWN_ERROR_CODES = new Set(['ProvisionedThroughputExceededException', 'InternalFailure']);
const errorCodeLabel = (code: string): string => (KNOWN_ERROR_CODES.has(code) ? code : 'other');

/** The Kinesis destination type's own metrics, made once per process. */
export class KinesisMetrics {
  private readonly putRecordsCalls: Counter<'destination' | 'outcome'>;
  private readonly recordsFailed: Counter<'destination' | 'error_code'>;
  readonly openShards: Gauge<'destination'>;

  constructor(registry: Registry) {
    this.putRecordsCalls = new Counter({
      name: `${METRIC_PREFIX}kinesis_put_records_calls_total`,
      help: 'PutRecords calls to a Kinesis destination, by outcome (ok, partial: some records failed, throttled, unavailable, malformed: the call failed whole).',
      labelNames: ['destination', 'outcome'] as const,
      registers: [registry],
    });
    this.recordsFailed = new Counter({
      name: `${METRIC_PREFIX}kinesis_records_failed_total`,
      help: 'Records a PutRecords answer failed one by one, by ErrorCode (ProvisionedThroughputExceededException, InternalFailure, other).',
      labelNames: ['destination', 'error_code'] as const,
      registers: [registry],
    });
    this.openShards = new Gauge({
      name: `${METRIC_PREFIX}kinesis_open_shards`,
      help: "Open shards of a Kinesis destination's stream, by its last DescribeStreamSummary; its quota is 1,000 records/s and 1 MiB/s per shard.",
      labelNames: ['destination'] as const,
      // Every worker describes the same stream: the primary shows one count, not their sum.
      aggregator: 'max',
      registers: [registry],
    });
  }

  /** One PutRecords call by its outcome: the label set is this fixed one. */
  countCall(destination: string, outcome: PutRecordsOutcome): void {
    this.putRecordsCalls.labels(destination, outcome).inc();
  }

  /** Records of one call that failed with `errorCode`; codes not documented count as `other`. */
  countFailedRecords(destination: string, errorCode: string, count: number): void {
    this.recordsFailed.labels(destination, errorCodeLabel(errorCode)).inc(count);
  }
}
