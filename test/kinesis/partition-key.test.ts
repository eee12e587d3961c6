import t from 'tap';
import { fitPartitionKey } from '../../src/destinations/kinesis/partition-key';
import { MAX_PARTITION_KEY_CHARS } from '../../src/destinations/kinesis/limits';

t.test('keys within 256 characters pass unchanged', async (t) => {
  t.equal(fitPartitionKey('order-1'), 'order-1');
  const max = 'k'.repeat(MAX_PARTITION_KEY_CHARS);
  t.equal(fitPartitionKey(max), max);
  // 256 astral characters are 512 UTF-16 units but 256 Unicode characters: still within the limit.
  const astral = '😀'.repeat(MAX_PARTITION_KEY_CHARS);
  t.equal(fitPartitionKey(astral), astral);
});

t.test('longer keys are clipped to 256 characters with a digest of the whole key, deterministically', async (t) => {
  const long = 'p'.repeat(300);
  const fitted = fitPartitionKey(long);
  t.equal(Array.from(fitted).length, MAX_PARTITION_KEY_CHARS);
  t.equal(fitted, fitPartitionKey(long), 'the same key gives the same result');
  t.match(fitted, /^p{212}~[A-Za-z0-9_-]{43}$/);
  const other = fitPartitionKey(`${'p'.repeat(299)}q`);
  t.not(other, fitted, 'keys that differ only past the prefix still differ');
  t.equal(other.slice(0, 212), fitted.slice(0, 212));

  const astral = fitPartitionKey('😀'.repeat(300));
  t.equal(Array.from(astral).length, MAX_PARTITION_KEY_CHARS, 'counted in characters, not UTF-16 units');
  t.ok(astral.isWellFormed(), 'no surrogate pair is cut in half');
});

t.test('lone surrogates become U+FFFD, so the key is valid UTF-8', async (t) => {
  t.equal(fitPartitionKey('a\ud800b'), 'a\ufffdb');
});
