// Reads back what a destination wrote to S3, so tests can assert on delivered bytes.
import { S3Client, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';
import { awsClientConfig } from './aws-client-config';

// Every gzip stream starts with these two bytes (RFC 1952, section 2.3.1).
const GZIP_MAGIC = [0x1f, 0x8b] as const;

function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/**
 * The contents of every object in `bucket` under `prefix`, in key order (S3 lists keys
 * lexicographically), gunzipped when they are gzip. Key order is not write order when
 * several objects share a key's timestamp, so compare contents as a set, not a sequence.
 */
export async function readAllObjects(endpoint: string, bucket: string, prefix?: string): Promise<Buffer[]> {
  const s3 = new S3Client({ ...awsClientConfig(endpoint), forcePathStyle: true });
  try {
    const keys: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ContinuationToken: continuationToken,
      }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);

    const contents: Buffer[] = [];
    for (const key of keys) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      contents.push(isGzip(bytes) ? gunzipSync(bytes) : Buffer.from(bytes));
    }
    return contents;
  } finally {
    s3.destroy();
  }
}
