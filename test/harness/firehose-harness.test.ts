// Proves the Firehose test harness: moto delivers PutRecordBatch data to S3, and the quota
// proxy throttles and enforces limits with the exact errors the real service sends, as
// @aws-sdk/client-firehose decodes them.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import {
  FirehoseClient,
  CreateDeliveryStreamCommand,
  DeleteDeliveryStreamCommand,
  PutRecordBatchCommand,
  PutRecordCommand,
  ServiceUnavailableException,
  InvalidArgumentException,
  type PutRecordBatchCommandOutput,
} from '@aws-sdk/client-firehose';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { motoEndpointForTests } from './moto-server';
import { FirehoseQuotaProxy } from './firehose-quota-proxy';
import { readAllObjects } from './s3-objects';
import { awsClientConfig } from './aws-client-config';

// A cold run installs moto into a fresh virtualenv first.
t.setTimeout(5 * 60_000);

const bucket = `firehose-harness-${randomUUID()}`;
const ndjson = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => Buffer.from(`${JSON.stringify({ n: from + i })}\n`));

t.test('firehose through the quota proxy into moto', async (t) => {
  const proxy = await FirehoseQuotaProxy.start({ upstream: await motoEndpointForTests(), quotas: {} });
  t.teardown(() => proxy.stop());
  // The SDK retries ServiceUnavailableException by itself; one attempt shows each answer as sent.
  const firehose = new FirehoseClient({ ...awsClientConfig(proxy.endpoint), maxAttempts: 1 });
  const created: string[] = [];
  // moto allows 50 streams per account, and one moto may serve several runs of the suite.
  t.teardown(async () => {
    await Promise.all(created.map((name) => firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name })).catch(() => undefined)));
    firehose.destroy();
  });
  const s3 = new S3Client({ ...awsClientConfig(proxy.endpoint), forcePathStyle: true });
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  // Each case gets its own stream and S3 prefix, so quota windows and objects don't mix.
  const createStream = async (): Promise<string> => {
    const name = `harness-${randomUUID()}`;
    await firehose.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      DeliveryStreamType: 'DirectPut',
      ExtendedS3DestinationConfiguration: {
        RoleARN: 'arn:aws:iam::123456789012:role/firehose-harness',
        BucketARN: `arn:aws:s3:::${bucket}`,
        Prefix: `${name}/`,
        BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 60 },
      },
    }));
    created.push(name);
    return name;
  };
  const putBatch = (stream: string, records: Buffer[]) =>
    firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: records.map((Data) => ({ Data })) }));

  await t.test('moto writes one S3 object per PutRecordBatch, record bytes joined as sent', async (t) => {
    const stream = await createStream();
    const first = await putBatch(stream, ndjson(3));
    t.equal(first.FailedPutCount, 0);
    t.equal(first.RequestResponses?.filter((r) => r.RecordId).length, 3);
    await putBatch(stream, ndjson(2, 3));

    const objects = (await readAllObjects(proxy.endpoint, bucket, `${stream}/`)).map(String);
    t.same(objects.sort(), [Buffer.concat(ndjson(3)).toString(), Buffer.concat(ndjson(2, 3)).toString()].sort());
    t.match(proxy.stats(stream), { calls: 2, recordsAccepted: 5, recordsThrottled: 0, maxRecordsPerCall: 3 });
  });

  await t.test('records over the records/s quota fail one by one with "Slow down.", in order', async (t) => {
    const stream = await createStream();
    proxy.setQuota(stream, { recordsPerSecond: 10 });
    const reply: PutRecordBatchCommandOutput = await putBatch(stream, ndjson(25));

    t.equal(reply.FailedPutCount, 15);
    const responses = reply.RequestResponses ?? [];
    t.equal(responses.length, 25);
    t.ok(responses.slice(0, 10).every((r) => r.RecordId && !r.ErrorCode), 'first 10 carry moto\'s RecordId');
    t.same(responses.slice(10), Array(15).fill({ ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' }));
    t.same((await readAllObjects(proxy.endpoint, bucket, `${stream}/`)).map(String), [Buffer.concat(ndjson(10)).toString()]);
    t.match(proxy.stats(stream), { calls: 1, throttledCalls: 0, recordsAccepted: 10, recordsThrottled: 15 });
  });

  await t.test('a burst over the requests/s quota gets whole-call ServiceUnavailableException', async (t) => {
    const stream = await createStream();
    proxy.setQuota(stream, { requestsPerSecond: 2 });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => putBatch(stream, ndjson(1, i))));

    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 2);
    const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as ServiceUnavailableException] : []));
    t.equal(errors.length, 3);
    for (const error of errors) {
      t.type(error, ServiceUnavailableException);
      t.match(error, { name: 'ServiceUnavailableException', message: 'Slow down.', $fault: 'server', $metadata: { httpStatusCode: 503 } });
    }
    t.match(proxy.stats(stream), { calls: 5, throttledCalls: 3, recordsAccepted: 2, recordsThrottled: 3 });
    t.equal((await readAllObjects(proxy.endpoint, bucket, `${stream}/`)).length, 2, 'refused calls never reach moto');
  });

  await t.test('records over the bytes/s quota fail one by one', async (t) => {
    const stream = await createStream();
    const records = ndjson(4); // 8 bytes each: {"n":0}\n
    proxy.setQuota(stream, { bytesPerSecond: 2 * records[0]!.length });
    const reply = await putBatch(stream, records);
    t.equal(reply.FailedPutCount, 2);
    t.same(reply.RequestResponses?.map((r) => r.ErrorCode ?? 'ok'), ['ok', 'ok', 'ServiceUnavailableException', 'ServiceUnavailableException']);
  });

  await t.test('a PutRecord over the records/s quota is refused whole', async (t) => {
    const stream = await createStream();
    proxy.setQuota(stream, { recordsPerSecond: 1 });
    const put = () => firehose.send(new PutRecordCommand({ DeliveryStreamName: stream, Record: { Data: ndjson(1)[0] } }));
    t.ok((await put()).RecordId);
    await t.rejects(put(), { name: 'ServiceUnavailableException', message: 'Slow down.' });
  });

  await t.test('calls over the hard per-call limits are refused as Firehose refuses them', async (t) => {
    const stream = await createStream();
    await t.rejects(putBatch(stream, ndjson(501)), {
      name: 'ValidationException',
      message: /at 'records' failed to satisfy constraint: Member must have length less than or equal to 500/,
      $metadata: { httpStatusCode: 400 },
    });
    await t.rejects(putBatch(stream, [Buffer.alloc(1_024_001)]), {
      name: 'ValidationException',
      message: /at 'records\.1\.member\.data' .* less than or equal to 1024000/,
    });
    const fiveMegabytes = Array.from({ length: 5 }, () => Buffer.alloc(1_000_000));
    await t.rejects(putBatch(stream, fiveMegabytes), InvalidArgumentException);
    await t.rejects(putBatch(stream, fiveMegabytes), { message: 'Records size exceeds 4 MB limit' });

    t.match(proxy.stats(stream), { calls: 4, limitViolations: 4, recordsAccepted: 0, maxRecordsPerCall: 501, maxRecordBytes: 1_024_001 });
    t.same(await readAllObjects(proxy.endpoint, bucket, `${stream}/`), [], 'nothing reached moto');
  });
});
