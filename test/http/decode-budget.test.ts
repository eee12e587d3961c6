import t from 'tap';
import { DecodeBudget } from '../../src/http/decode-budget';
import { IdleCollection } from '../../src/http/idle-collection';
import { GatewayError } from '../../src/errors';

// The decode budget's arithmetic and order (the attack over sockets is test/hostile/decode-budget.test.ts).

const KiB = 1024;
const limits = { budgetBytes: 100 * KiB, waitMs: 200, bodyLimitBytes: 40 * KiB, maxDecodedBytes: 60 * KiB, retryAfterSeconds: 2 };

t.test('a request weighs its body and what it may decode to', async (t) => {
  const budget = new DecodeBudget(limits);
  t.equal(budget.weightOf({}), 0, 'no body: nothing');
  t.equal(budget.weightOf({ 'content-length': '0' }), 0);
  t.equal(budget.weightOf({ 'content-length': '1000' }), 2000, 'plain: the body and its text');
  t.equal(budget.weightOf({ 'content-length': '1000', 'content-encoding': 'gzip' }), 1000 + 60 * KiB, 'encoded: the body and maxDecodedBytes');
  t.equal(budget.weightOf({ 'content-length': '1000', 'content-encoding': 'identity' }), 2000);
  t.equal(budget.weightOf({ 'transfer-encoding': 'chunked' }), 80 * KiB, 'chunked: bodyLimitBytes, twice');
  t.equal(budget.weightOf({ 'content-length': String(10 ** 12) }), 80 * KiB, 'a Content-Length past the body limit counts as the limit');
  t.equal(budget.weightOf({ 'content-length': '1000', 'content-type': 'avro/binary' }), 2000 + 60 * KiB, 'Avro: its container blocks may inflate too');
});

t.test('room is given in arrival order; shrinking and releasing admit the waiters; a lone request always fits', async (t) => {
  const budget = new DecodeBudget(limits);
  const big = await budget.reserve(150 * KiB);
  t.equal(budget.reserved, 150 * KiB, 'alone, a request over the whole budget is admitted');
  const order: string[] = [];
  const second = budget.reserve(60 * KiB).then((r) => (order.push('second'), r));
  const third = budget.reserve(10 * KiB).then((r) => (order.push('third'), r));
  await new Promise((r) => setTimeout(r, 20));
  t.same(order, [], 'both wait while the first holds more than the budget');
  big.shrinkTo(30 * KiB);
  const [s, th] = await Promise.all([second, third]);
  t.same(order, ['second', 'third'], 'admitted first come, first served once the first shrank');
  t.equal(budget.reserved, 100 * KiB);
  big.release();
  big.release();
  s.release();
  th.release();
  t.equal(budget.reserved, 0, 'released once each, whatever the calls');
});

t.test('no room within waitMs: 503 OVERLOADED with Retry-After, and the queue moves on', async (t) => {
  let idles = 0;
  const released: number[] = [];
  let actives = 0;
  const budget = new DecodeBudget(limits, { idle: () => idles++, active: () => actives++, released: (bytes) => released.push(bytes) });
  const holder = await budget.reserve(90 * KiB);
  const started = Date.now();
  const refused = await budget.reserve(20 * KiB).catch((err: GatewayError) => err);
  t.ok(refused instanceof GatewayError && refused.code === 'OVERLOADED' && refused.retryAfterSeconds === 2, '503 OVERLOADED, Retry-After 2');
  t.ok(Date.now() - started >= 190, 'after waiting waitMs');
  t.equal(budget.refusals, 1);
  const small = await budget.reserve(5 * KiB);
  t.equal(budget.reserved, 95 * KiB, 'a request that fits is admitted at once');
  holder.release();
  small.release();
  t.equal(idles, 1, 'idle once nothing is in flight');
  t.equal(actives, 1, 'active once, as the first request came in');
  t.same(released, [90 * KiB, 5 * KiB], 'each reservation reported with what it held');
});

t.test('the idle collection runs once after a burst, only when the budget stays idle for its delay', async (t) => {
  let runs = 0;
  const collection = new IdleCollection(() => runs++, 50, 1000);
  t.teardown(() => collection.close());
  collection.decoded(500);
  collection.idle();
  await new Promise((r) => setTimeout(r, 80));
  t.equal(runs, 0, 'not below the threshold');
  collection.decoded(600);
  collection.idle();
  await new Promise((r) => setTimeout(r, 20));
  collection.active();
  await new Promise((r) => setTimeout(r, 80));
  t.equal(runs, 0, 'a request that starts within the delay cancels it');
  collection.idle();
  await new Promise((r) => setTimeout(r, 80));
  t.equal(runs, 1, 'idle for the whole delay: one collection');
  collection.idle();
  await new Promise((r) => setTimeout(r, 80));
  t.equal(runs, 1, 'and none more until as much was decoded again');
});
