import type { MisconfigurationReason } from '../destination';

// AWS error names (the SDK's `err.name`) that no retry cures: the stream is not there, or the
// credentials may not write to it. Firehose and Kinesis report them on every call until someone
// creates the stream or grants the permission; the destination says so (Destination.misconfiguration).
// https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html#API_PutRecordBatch_Errors
// https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html#API_PutRecords_Errors
// https://docs.aws.amazon.com/kinesis/latest/APIReference/CommonErrors.html

const MISCONFIGURATIONS: Readonly<Record<string, MisconfigurationReason>> = {
  ResourceNotFoundException: 'missing_stream',
  AccessDeniedException: 'no_permission',
  AccessDenied: 'no_permission',
  UnrecognizedClientException: 'no_permission',
  KMSAccessDeniedException: 'no_permission',
};

export function awsMisconfiguration(errorName: string): MisconfigurationReason | undefined {
  return Object.hasOwn(MISCONFIGURATIONS, errorName) ? MISCONFIGURATIONS[errorName] : undefined;
}
