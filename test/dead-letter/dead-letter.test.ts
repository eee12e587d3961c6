import pino from 'pino';
import t from 'tap';
import { DeadLetter, deadLetterLine, type DeadLetterRecord } from '../../src/destinations/dead-letter/dead-letter';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { metricValue, readGzipLines, removeDir, tempDir } from '../helpers/gateway';

// Anyone can make a dead letter: what one record stores and what all of them take on disk
// are bounded, and what is dropped is counted.

const record = (payload: unknown, over: Partial<DeadLetterRecord> = {}): DeadLetterRecord => ({
  reason: 'invalid',
  message: 'placement: expected one of TOP, SIDEBAR',
  service: 'widget',
  topic: 'impression',
  version: 1,
  receivedAt: Date.UTC(2026, 10, 29, 12, 0),
  source: '/v1/beacon/widget/impression',
  payload,
  ...over,
});

t.test('a payload that fits is kept whole, with its size', async (t) => {
  const line = JSON.parse(deadLetterLine(record({ a: 'b' }), 1024));
  t.same(line.payload, { a: 'b' });
  t.equal(line.payloadBytes, 9);
  t.equal(line.payloadTruncated, undefined);
});

t.test('a payload over maxPayloadBytes is cut, keeping its size and SHA-256', async (t) => {
  const big = { blob: 'x'.repeat(100_000) };
  const line = JSON.parse(deadLetterLine(record(big), 1024));
  t.equal(line.payload, undefined);
  t.equal(line.payloadBytes, JSON.stringify(big).length);
  t.equal(line.payloadTruncated.length, 1024);
  t.match(line.payloadSha256, /^[0-9a-f]{64}$/);
});

t.test('a payload JSON cannot write (nested past the stack) is described, not thrown', async (t) => {
  let deep: unknown = {};
  for (let i = 0; i < 200_000; i++) deep = [deep];
  const line = JSON.parse(deadLetterLine(record(deep), 1024));
  t.match(line.payload, /payload not serialisable/);
});

t.test('past maxBytes on disk, dead letters are dropped, counted and logged', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const metrics = new GatewayMetrics();
  const logged: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
  const deadLetter = new DeadLetter(dir, { maxPayloadBytes: 8192, maxBytes: 1024 * 1024 }, metrics, log);
  const payload = { blob: 'y'.repeat(6000) };
  let written = 0;
  let dropped = 0;
  for (let i = 0; i < 400; i++) {
    if (await deadLetter.write([record(payload)])) written++;
    else dropped++;
  }
  await deadLetter.close();
  t.ok(written > 100 && dropped > 100, `${written} written, ${dropped} dropped`);
  const text = await metrics.render();
  t.equal(metricValue(text, 'tracking_gateway_events_dropped_total', { reason: 'dead_letter_full' }), dropped);
  t.equal(metricValue(text, 'tracking_gateway_events_dead_lettered_total', { reason: 'invalid' }), written);
  t.ok(metricValue(text, 'tracking_gateway_dead_letter_bytes') <= 1024 * 1024);
  t.equal(metricValue(text, 'tracking_gateway_dead_letter_limit_bytes'), 1024 * 1024);
  t.equal(readGzipLines(dir).length, written, 'what was counted written is on disk');
  t.equal(logged.length, 1, 'the reason is logged once per interval, not per drop');
  t.match(logged[0], /dead letters dropped: the dead letter holds \d+ bytes of its 1048576/);

  // A restart counts what is already on disk against the bound.
  const again = new DeadLetter(dir, { maxPayloadBytes: 8192, maxBytes: 1024 * 1024 }, new GatewayMetrics(), log);
  await again.start();
  t.equal(await again.write([record(payload)]), true, 'the gzip files take less than the lines did');
  await again.close();
  const full = new DeadLetter(dir, { maxPayloadBytes: 8192, maxBytes: 1024 * 1024 + 1 }, new GatewayMetrics(), log);
  await full.start();
  t.ok((full as unknown as { usedBytes: number }).usedBytes > 0, 'files found at start are counted');
  await full.close();
});
