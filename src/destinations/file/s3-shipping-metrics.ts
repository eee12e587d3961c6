import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX, sampledPerDestination } from '../../metrics/metrics';

/** Bounded `reason` label values of file_s3_upload_failures_total. */
export type S3FailureReason = 'timeout' | 'network' | 'throttled' | 'access_denied' | 'no_bucket' | 'bad_digest' | 'server_error' | 'client_error' | 'local_file' | 'too_large';

// From a minute's end to its file in S3: the grace (120 s by default) plus the upload, or
// hours while S3 is away.
const UPLOAD_LAG_BUCKETS = [30, 60, 120, 180, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600];

/** The metrics of shipping minute files to S3, made once per process. */
export function s3ShippingMetrics(registry: Registry) {
  const name = (suffix: string) => `${METRIC_PREFIX}file_s3_${suffix}`;
  return {
    pendingFiles: sampledPerDestination(registry, { name: name('pending_files'), help: 'Closed minute files waiting to be shipped to S3 (as of the last pass over the folder).' }),
    pendingBytes: sampledPerDestination(registry, { name: name('pending_bytes'), help: 'Bytes of the closed minute files waiting to be shipped to S3; at maxPendingBytes the file destination refuses events.' }),
    uploadLag: new Histogram({
      name: name('upload_lag_seconds'),
      help: 'From the end of the minute a file was written in to its upload to S3 done.',
      labelNames: ['destination'] as const,
      buckets: UPLOAD_LAG_BUCKETS,
      registers: [registry],
    }),
    uploads: new Counter({
      name: name('uploads_total'),
      help: 'Uploads of minute files to S3, by outcome (uploaded, failed: tried again after a backoff).',
      labelNames: ['destination', 'outcome'] as const,
      registers: [registry],
    }),
    uploadFailures: new Counter({
      name: name('upload_failures_total'),
      help: 'Failed uploads of minute files to S3, by reason (timeout, network, throttled, access_denied, no_bucket, bad_digest, server_error, client_error, local_file, too_large).',
      labelNames: ['destination', 'reason'] as const,
      registers: [registry],
    }),
    uploadedBytes: new Counter({
      name: name('uploaded_bytes_total'),
      help: 'Bytes of minute files uploaded to S3 (gzip, as stored).',
      labelNames: ['destination'] as const,
      registers: [registry],
    }),
    refusedEvents: new Counter({
      name: name('refused_events_total'),
      help: 'Events the file destination refused (as unavailable: they move down the route to the spool) because closed files waiting for S3 held maxPendingBytes.',
      labelNames: ['destination'] as const,
      registers: [registry],
    }),
  };
}

export type S3ShippingMetrics = ReturnType<typeof s3ShippingMetrics>;
