import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Test } from 'tap';
import { awsClientConfig } from '../harness/aws-client-config';
import { motoEndpointForTests } from '../harness/moto-server';

// A bucket of its own in moto for each test, emptied and deleted when the test ends.

// The gateway's S3 client reads its credentials and region from the environment, as in production.
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
process.env.AWS_REGION ??= 'us-east-1';

export interface TestBucket {
  bucket: string;
  /** moto's endpoint. */
  endpoint: string;
  /** Every object in the bucket, by key, with its bytes as stored. */
  objects: () => Promise<Map<string, Buffer>>;
}

export async function testBucket(t: Test): Promise<TestBucket> {
  const endpoint = await motoEndpointForTests();
  const s3 = new S3Client({ ...awsClientConfig(endpoint), forcePathStyle: true });
  const bucket = `ship-${randomUUID()}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) out.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  };
  const objects = async (): Promise<Map<string, Buffer>> => {
    const out = new Map<string, Buffer>();
    for (const key of await keys()) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      out.set(key, Buffer.from((await object.Body?.transformToByteArray()) ?? []));
    }
    return out;
  };
  t.teardown(async () => {
    for (const key of await keys()) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    s3.destroy();
  });
  return { bucket, endpoint, objects };
}

/** `20261129T1803Z` and the parts of the S3 layout, spelled here independently of the code under test. */
export function keyParts(minute: number): { date: string; hour: string; stamp: string } {
  const d = new Date(minute * 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return { date, hour: pad(d.getUTCHours()), stamp: `${date.replaceAll('-', '')}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}Z` };
}

/** `<dir>/<folder>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz`: where the file destination writes a minute's lines. */
export function localPath(dir: string, folder: string, minute: number): string {
  const { date, hour } = keyParts(minute);
  return join(dir, folder, date, `${hour}-${String(new Date(minute * 60_000).getUTCMinutes()).padStart(2, '0')}.ndjson.gz`);
}

/** The key a minute file of `service/topic` must ship to. */
export function expectedKey(prefix: string, folder: string, host: string, minute: number, lateMinute?: number): string {
  const { date, hour, stamp } = keyParts(minute);
  const late = lateMinute === undefined ? '' : `-${keyParts(lateMinute).stamp}`;
  return `${prefix ? `${prefix}/` : ''}${folder}/dt=${date}/hour=${hour}/${host}-${stamp}${late}.ndjson.gz`;
}
