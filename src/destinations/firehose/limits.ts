// Amazon Data Firehose limits that no quota increase changes.
// https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
// https://docs.aws.amazon.com/firehose/latest/dev/limits.html

/** "Each PutRecordBatch request supports up to 500 records." */
export const MAX_RECORDS_PER_CALL = 500;

/** "up to a limit of 4 MB for the entire request" (4 MiB per the limits page). */
export const MAX_BYTES_PER_CALL = 4 * 1024 * 1024;

/** "Each record in the request can be as large as 1,000 KB (before base64 encoding)". */
export const MAX_RECORD_BYTES = 1_000 * 1024;
