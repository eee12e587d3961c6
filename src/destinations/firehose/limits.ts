// Amazon Data Firehose limits that no quota increase changes.
// https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
// https://docs.aws.amazon.com/firehose/latest/dev/limits.html

/** "Each PutRecordBatch request supports up to 500 records." */
export const MAX_RECORDS_PER_CALL = 500;

/** "up to a limit of 4 MB for the entire request" (4 MiB per the limits page). */
export const MAX_BYTES_PER_CALL = 4 * 1024 * 1024;

/** "Each record in the request can be as large as 1,000 KB (before base64 encoding)". */
export const MAX_RECORD_BYTES = 1_000 * 1024;

/**
 * Firehose bills ingestion per record rounded up to the next 5 KB, and its throughput quota
 * counts records per second, so small events are packed several to a record.
 * https://aws.amazon.com/firehose/pricing/
 */
export const BILLING_INCREMENT_BYTES = 5 * 1024;

/**
 * Default per-stream quotas in most regions (us-east-1, us-west-2 and eu-west-1 are higher):
 * 1,000 records/s, 1 MiB/s and 1,000 requests/s for direct PUT. Used only as documentation
 * of what `quota` means; the gateway applies only the quotas a config states.
 * https://docs.aws.amazon.com/firehose/latest/dev/limits.html
 */
export const DEFAULT_REGIONAL_QUOTA = { recordsPerSecond: 1_000, bytesPerSecond: 1024 * 1024, requestsPerSecond: 1_000 };
