// Proves the Kinesis side of the quota proxy: moto stores what PutRecords sends, and the proxy
// throttles and enforces PutRecords' limits with errors @aws-sdk/client-kinesis decodes as the
// real service's.
import { InvalidArgumentException, ProvisionedThroughputExceededException, PutRecordsCommand, ValidationException } from '@aws-sdk/client-kinesis';
import t from 'tap';
import { kinesisClient, setupKinesisStream } from '../helpers/kinesis';

t.setTimeout(5 * 60_000);

const records = (count: number, bytes = 10, from = 0) => Array.from({ length: count }, (_, i) => ({ Data: Buffer.alloc(bytes, 'k'), PartitionKey: `key-${from + i}` }));

t.test('kinesis through the quota proxy into moto', async (t) => {
  await t.test('records pass through and are read back in order per key', async (t) => {
    const { endpoint, stream, readAll } = await setupKinesisStream(t, 'harness-pass', 2);
    const client = kinesisClient(endpoint, 1);
    t.teardown(() => client.destroy());
    const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: records(20) }));
    t.equal(out.FailedRecordCount, 0);
    t.equal(out.Records?.filter((r) => r.SequenceNumber).length, 20);
    t.same((await readAll()).map((r) => r.partitionKey).sort(), records(20).map((r) => r.PartitionKey).sort());
  });

  await t.test('records over the records/s quota fail one by one with ProvisionedThroughputExceededException, in order', async (t) => {
    const { endpoint, proxy, stream, readAll } = await setupKinesisStream(t, 'harness-records', 1);
    proxy.setQuota(stream, { recordsPerSecond: 30 });
    const client = kinesisClient(endpoint, 1);
    t.teardown(() => client.destroy());
    const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: records(50) }));
    t.equal(out.FailedRecordCount, 20);
    t.ok(out.Records!.slice(0, 30).every((r) => r.SequenceNumber && !r.ErrorCode));
    t.ok(out.Records!.slice(30).every((r) => r.ErrorCode === 'ProvisionedThroughputExceededException' && /Rate exceeded for shard/.test(r.ErrorMessage ?? '')));
    t.equal((await readAll()).length, 30, 'only the accepted records reach the stream');
    t.match(proxy.stats(stream), { recordsAccepted: 30, recordsThrottled: 20 });
  });

  await t.test('a call over the requests/s quota is refused whole', async (t) => {
    const { endpoint, proxy, stream } = await setupKinesisStream(t, 'harness-requests', 1);
    proxy.setQuota(stream, { requestsPerSecond: 1 });
    const client = kinesisClient(endpoint, 1);
    t.teardown(() => client.destroy());
    await client.send(new PutRecordsCommand({ StreamName: stream, Records: records(1) }));
    await t.rejects(client.send(new PutRecordsCommand({ StreamName: stream, Records: records(1) })), ProvisionedThroughputExceededException);
  });

  await t.test('calls over the hard per-call limits are refused as Kinesis refuses them', async (t) => {
    const { endpoint, proxy, stream } = await setupKinesisStream(t, 'harness-limits', 1);
    const client = kinesisClient(endpoint, 1);
    t.teardown(() => client.destroy());
    await t.rejects(client.send(new PutRecordsCommand({ StreamName: stream, Records: records(501) })), ValidationException, '501 records');
    await t.rejects(client.send(new PutRecordsCommand({ StreamName: stream, Records: records(1, 1024 * 1024) })), ValidationException, 'a record of 1 MiB plus its key');
    await t.rejects(client.send(new PutRecordsCommand({ StreamName: stream, Records: records(6, 1000 * 1024) })), InvalidArgumentException, '6 records of 1,000 KiB');
    t.equal(proxy.stats(stream).limitViolations, 3);
  });
});
