import { randomUUID } from 'node:crypto';
import { CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Test } from 'tap';
import { awsClientConfig } from '../harness/aws-client-config';
import { FirehoseQuotaProxy } from '../harness/firehose-quota-proxy';
import { motoEndpointForTests } from '../harness/moto-server';
import { readAllObjects } from '../harness/s3-objects';

// Delivery streams in moto (the real Firehose API) behind the quota proxy, for tests.

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
process.env.AWS_REGION ??= 'us-east-1';

/** Streams named after `names` (made unique), each writing to its own prefix of one new bucket. */
export async function setupStreams(t: Test, names: string[]) {
  const moto = await motoEndpointForTests();
  const proxy = await FirehoseQuotaProxy.start({ upstream: moto, quotas: {} });
  t.teardown(() => proxy.stop());
  const bucket = `chain-${randomUUID()}`;
  const s3 = new S3Client({ ...awsClientConfig(moto), forcePathStyle: true });
  const firehose = new FirehoseClient(awsClientConfig(moto));
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const streams = names.map((n) => `${n}-${randomUUID().slice(0, 8)}`);
  // moto allows 50 streams per account, and the suite may share one moto across files.
  t.teardown(async () => {
    await Promise.all(streams.map((stream) => firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: stream })).catch(() => undefined)));
    firehose.destroy();
  });
  for (const stream of streams) {
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: stream,
        DeliveryStreamType: 'DirectPut',
        ExtendedS3DestinationConfiguration: { RoleARN: 'arn:aws:iam::123456789012:role/test', BucketARN: `arn:aws:s3:::${bucket}`, Prefix: `${stream}/` },
      }),
    );
  }
  /** Event ids delivered to a stream, from its S3 objects (NDJSON CloudEvents). */
  const idsIn = async (stream: string): Promise<string[]> =>
    (await readAllObjects(moto, bucket, `${stream}/`)).flatMap((o) => o.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).id as string));
  return { proxy, streams, idsIn };
}

