import { Registry } from 'prom-client';
import t from 'tap';
import { SummingCounter } from '../../src/metrics/summing-counter';
import { metricValue } from '../helpers/gateway';

function counter() {
  const registry = new Registry();
  const c = new SummingCounter({ name: 'things_total', help: 'things', labelNames: ['kind', 'outcome'] as const, registers: [registry] });
  return { registry, c };
}

t.test('children add up until read; every read sees every increment', async (t) => {
  const { registry, c } = counter();
  const ok = c.labels('a', 'ok');
  t.equal(c.labels('a', 'ok'), ok, 'one child per label values');
  ok.inc();
  ok.inc(41);
  c.labels('b', 'ok').inc(0);
  c.inc({ kind: 'a', outcome: 'ok' }, 100);
  let text = await registry.metrics();
  t.equal(metricValue(text, 'things_total', { kind: 'a', outcome: 'ok' }), 142);
  t.match(text, /things_total\{kind="b",outcome="ok"\} 0/, 'a series incremented by 0 is shown, as prom-client does');
  ok.inc(8);
  text = await registry.metrics();
  t.equal(metricValue(text, 'things_total', { kind: 'a', outcome: 'ok' }), 150, 'nothing counted twice after a read');
  t.equal((await c.get()).values.find((v) => v.labels.kind === 'a')?.value, 150);
});

t.test('refuses what prom-client refuses', async (t) => {
  const { c } = counter();
  t.throws(() => c.labels('only-one'), 'a missing label value');
  t.throws(() => c.labels('a', 'ok').inc(-1), /finite amount/);
  t.throws(() => c.labels('a', 'ok').inc(Infinity), /finite amount/);
  t.throws(() => c.labels('a', 'ok').inc(NaN), /finite amount/);
});
