// Amazon Kinesis Data Streams limits.
// PutRecords: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
// Quotas: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html

/** "Each PutRecords request can support up to 500 records." */
export const MAX_RECORDS_PER_CALL = 500;

/** "up to a limit of 5 MiB for the entire request, including partition keys." */
export const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;

/** "Each record in the request can be as large as 1 MiB" (data blob plus partition key). */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** PartitionKey: "Length Constraints: Minimum length of 1. Maximum length of 256." (Unicode characters). */
export const MAX_PARTITION_KEY_CHARS = 256;

/** "Each shard can support writes up to 1,000 records per second" (quotas page). */
export const SHARD_RECORDS_PER_SECOND = 1_000;

/** "... up to a maximum data write total of 1 MiB per second" per shard (quotas page). */
export const SHARD_BYTES_PER_SECOND = 1024 * 1024;

/** StreamName: "Length Constraints: Minimum length of 1. Maximum length of 128. Pattern: [a-zA-Z0-9_.-]+". */
export const STREAM_NAME_PATTERN = '^[a-zA-Z0-9_.-]{1,128}$';

/** StreamARN: "Length Constraints: Minimum length of 1. Maximum length of 2048. Pattern: arn:aws.*:kinesis:.*:\d{12}:stream/\S+". */
export const STREAM_ARN_PATTERN = '^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/[a-zA-Z0-9_.-]{1,128}$';
export const MAX_STREAM_ARN_CHARS = 2048;
