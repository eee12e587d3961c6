import { randomUUID } from 'node:crypto';
import { CreateStreamCommand, DeleteStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Test } from 'tap';
import { awsClientConfig } from '../harness/aws-client-config';
import { FirehoseQuotaProxy } from '../harness/firehose-quota-proxy';
import { motoEndpointForTests } from '../harness/moto-server';

// Kinesis data streams in moto (the real Kinesis API), for tests: made with a unique name,
// deleted when the test ends, and read back shard by shard as a consumer would. The gateway
// reaches moto through the quota proxy (`endpoint`), which throttles when told to and keeps
// moto from losing records to concurrent puts.

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
process.env.AWS_REGION ??= 'us-east-1';

export interface StreamRecord {
  shardId: string;
  partitionKey: string;
  data: Buffer;
}

/**
 * A client of moto's Kinesis over HTTP/1.1 (the client defaults to HTTP/2, which moto does not
 * speak); `maxAttempts` 1 shows each answer as sent, without the SDK's retries.
 */
export function kinesisClient(endpoint: string, maxAttempts?: number): KinesisClient {
  return new KinesisClient({ ...awsClientConfig(endpoint), requestHandler: new NodeHttpHandler(), maxAttempts });
}

/** A stream named after `name` (made unique) with `shards` shards, deleted when the test ends. */
export async function setupKinesisStream(t: Test, name: string, shards: number) {
  const moto = await motoEndpointForTests();
  const proxy = await FirehoseQuotaProxy.start({ upstream: moto, quotas: {} });
  t.teardown(() => proxy.stop());
  const client = kinesisClient(moto);
  const stream = `${name}-${randomUUID().slice(0, 8)}`;
  t.teardown(async () => {
    await client.send(new DeleteStreamCommand({ StreamName: stream, EnforceConsumerDeletion: true })).catch(() => undefined);
    client.destroy();
  });
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }));
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  const arn = summary.StreamDescriptionSummary!.StreamARN!;

  /** Every record in the stream, shard by shard from the oldest, as a consumer reads them. */
  const readAll = async (): Promise<StreamRecord[]> => {
    const records: StreamRecord[] = [];
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: stream }));
    for (const { ShardId } of Shards) {
      let iterator = (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (iterator !== undefined) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
        const got = page.Records ?? [];
        for (const r of got) records.push({ shardId: ShardId!, partitionKey: r.PartitionKey!, data: Buffer.from(r.Data!) });
        iterator = got.length > 0 ? page.NextShardIterator : undefined;
      }
    }
    return records;
  };
  return { moto, proxy, endpoint: proxy.endpoint, stream, arn, shards, readAll };
}
