import t from 'tap';
import { Backoff, backoffDelay } from '../../src/background/backoff';

t.test('each wait lies between half and all of base·2^(attempt−1), capped at the max', async (t) => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const cap = Math.min(30_000, 100 * 2 ** (attempt - 1));
    t.equal(backoffDelay(attempt, 100, 30_000, () => 0), cap / 2, `attempt ${attempt}: at least half`);
    t.equal(backoffDelay(attempt, 100, 30_000, () => 0.999999), cap / 2 + 0.999999 * (cap / 2), `attempt ${attempt}: at most the cap`);
  }
  t.equal(backoffDelay(1000, 100, 5_000, () => 1), 5_000, 'a huge attempt count stays at the max');
});

t.test('the jitter spreads waiters that failed together', async (t) => {
  const delays = new Set(Array.from({ length: 50 }, () => Math.round(backoffDelay(4, 100, 30_000))));
  t.ok(delays.size > 10, `${delays.size} distinct waits out of 50`);
});

t.test('Backoff counts failures and starts over after reset', async (t) => {
  const backoff = new Backoff(200, 5_000, () => 0);
  t.same([backoff.next(), backoff.next(), backoff.next()], [100, 200, 400]);
  t.equal(backoff.failures, 3);
  backoff.reset();
  t.equal(backoff.failures, 0);
  t.equal(backoff.next(), 100);
});
