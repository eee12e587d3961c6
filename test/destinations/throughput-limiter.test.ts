import t from 'tap';
import { ThroughputLimiter } from '../../src/destinations/util/throughput-limiter';

function clock(start = 1_000_000) {
  const c = { now: start, read: () => c.now };
  return c;
}

t.test('a records/s quota admits that many per sliding window, then none until it slides', async (t) => {
  const c = clock();
  const limiter = new ThroughputLimiter({ recordsPerSecond: 100 }, false, c.read);
  t.equal(limiter.admit(new Array(60).fill(10)), 60);
  t.equal(limiter.admit(new Array(60).fill(10)), 40, 'only what is left of the quota');
  t.equal(limiter.admit([10]), 0);
  c.now += 1100;
  t.equal(limiter.admit(new Array(60).fill(10)), 60, 'the window slid past the first calls');
});

t.test('bytes/s and requests/s quotas', async (t) => {
  const c = clock();
  const bytes = new ThroughputLimiter({ bytesPerSecond: 1000 }, false, c.read);
  t.equal(bytes.admit([400, 400, 400]), 2);
  const requests = new ThroughputLimiter({ requestsPerSecond: 2 }, false, c.read);
  t.equal(requests.admit([1]), 1);
  t.equal(requests.admit([1]), 1);
  t.equal(requests.admit([1]), 0, 'a third request in the same second is not sent');
});

t.test('throttling lowers the learned rate once a second; quiet seconds raise it back', async (t) => {
  const c = clock();
  const limiter = new ThroughputLimiter({}, true, c.read);
  t.equal(limiter.recordsPerSecond, Infinity, 'nothing known yet');
  t.equal(limiter.admit(new Array(500).fill(1)), 500);
  limiter.onAccepted(300);
  limiter.onThrottled();
  t.equal(limiter.recordsPerSecond, 270, '90% of what it took in the last second');
  limiter.onThrottled();
  t.equal(limiter.recordsPerSecond, 270, 'one decrease per throttle episode');
  c.now += 1100;
  limiter.admit([1]);
  t.equal(limiter.recordsPerSecond, 297, 'a quiet second raises it by 10%');
  const quota = new ThroughputLimiter({ recordsPerSecond: 1000 }, true, c.read);
  quota.onThrottled();
  t.equal(quota.recordsPerSecond, 900, 'with a quota, the step down is from the quota');
  for (let i = 0; i < 3; i++) {
    c.now += 1100;
    quota.admit([1]);
  }
  t.equal(quota.recordsPerSecond, 1000, 'back at the quota');
});

t.test('a throttle in a second in which nothing was taken steps down from what was sent, not to 1 record/s', async (t) => {
  const c = clock();
  const limiter = new ThroughputLimiter({}, true, c.read);
  t.equal(limiter.admit(new Array(400).fill(1)), 400);
  limiter.onThrottled();
  t.equal(limiter.recordsPerSecond, 180, '90% of half the 400 sent');
  c.now += 5000;
  t.equal(limiter.admit([1]), 1);
  limiter.onThrottled();
  t.ok(limiter.recordsPerSecond >= 1 && limiter.recordsPerSecond < 180, `a lone record throttled lowers it again, at least to the floor (${limiter.recordsPerSecond})`);
});

t.test('a quota the destination may throttle below (Kinesis, per shard): a throttle steps down from what it took', async (t) => {
  const c = clock();
  const perShard = new ThroughputLimiter({ recordsPerSecond: 2000 }, true, c.read, { throttlesBelowQuota: true });
  t.equal(perShard.admit(new Array(1500).fill(1)), 1500);
  perShard.onAccepted(400);
  perShard.onThrottled();
  t.equal(perShard.recordsPerSecond, 360, '90% of the 400 taken, not of the 2,000 quota');
  const exact = new ThroughputLimiter({ recordsPerSecond: 2000 }, true, c.read);
  exact.admit(new Array(1500).fill(1));
  exact.onAccepted(400);
  exact.onThrottled();
  t.equal(exact.recordsPerSecond, 1800, 'an exact quota steps down from the quota');
});
