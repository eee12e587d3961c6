import t from 'tap';
import { ShardQuota } from '../../src/destinations/kinesis/shard-quota';
import { ThroughputLimiter } from '../../src/destinations/util/throughput-limiter';

t.test('the quota is 1,000 records/s and 1 MiB/s per open shard once shards are counted', async (t) => {
  const quota = new ShardQuota({});
  t.equal(quota.recordsPerSecond, undefined, 'no shard count: no quota');
  t.equal(quota.bytesPerSecond, undefined);
  quota.shards = 3;
  t.equal(quota.recordsPerSecond, 3000);
  t.equal(quota.bytesPerSecond, 3 * 1024 * 1024);
  t.equal(quota.requestsPerSecond, undefined);
});

t.test('configured values win over the shard-derived ones', async (t) => {
  const quota = new ShardQuota({ recordsPerSecond: 150, requestsPerSecond: 7 });
  quota.shards = 2;
  t.equal(quota.recordsPerSecond, 150);
  t.equal(quota.bytesPerSecond, 2 * 1024 * 1024, 'bytes still from the shards');
  t.equal(quota.requestsPerSecond, 7);
});

t.test('the limiter follows a new shard count at once', async (t) => {
  const now = 1_000_000;
  const quota = new ShardQuota({});
  quota.shards = 1;
  const limiter = new ThroughputLimiter(quota, true, () => now);
  t.equal(limiter.admit(new Array(1500).fill(10)), 1000, 'one shard: 1,000 records in a second');
  quota.shards = 2;
  t.equal(limiter.admit(new Array(1500).fill(10)), 1000, 'two shards: 1,000 more in the same second');
  t.equal(limiter.recordsPerSecond, 2000);
});
