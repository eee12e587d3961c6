import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import t from 'tap';
import { BackgroundLoop } from '../../src/background/loop';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { metricValue } from '../helpers/gateway';

function capture() {
  const lines: { level: number; msg: string; file?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

t.test('a tick that throws is counted and logged once while the error stays the same; the loop goes on and says when it works again', async (t) => {
  const metrics = new GatewayMetrics();
  const { log, lines } = capture();
  let runs = 0;
  const loop = new BackgroundLoop(
    'spool_replay',
    10,
    async () => {
      runs++;
      if (runs <= 4) throw new Error('EIO: i/o error, read');
    },
    log,
    metrics,
  );
  loop.start();
  // Four failures back off 5–10, 10–20, 20–40 and 40–80 ms: well within a second.
  for (let i = 0; i < 100 && runs < 6; i++) await sleep(20);
  await loop.stop();
  t.ok(runs >= 6, `still running after four errors (${runs} runs)`);
  t.equal(metricValue(await metrics.render(), 'tracking_gateway_background_errors_total', { task: 'spool_replay' }), 4);
  const errors = lines.filter((l) => l.level === 50);
  t.equal(errors.length, 1, 'the same error is logged once, not per run');
  t.match(errors[0].msg, /spool_replay failed: EIO/);
  t.ok(lines.some((l) => l.level === 30 && /spool_replay works again/.test(l.msg)), 'recovery is logged');
});

t.test('stop waits for the run in progress and no run starts after it', async (t) => {
  const metrics = new GatewayMetrics();
  const { log } = capture();
  let running = 0;
  let runs = 0;
  const loop = new BackgroundLoop(
    'minute_file_sweep',
    5,
    async () => {
      running++;
      runs++;
      await sleep(30);
      running--;
    },
    log,
    metrics,
  );
  loop.start();
  await sleep(15);
  await loop.stop();
  t.equal(running, 0, 'the run in progress finished');
  const after = runs;
  await sleep(50);
  t.equal(runs, after, 'nothing ran after stop');
});
