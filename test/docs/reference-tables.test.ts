// The reference in docs/ names everything the code has: each error code of src/errors.ts in
// docs/http-api.md with its status, each environment variable of the config in
// docs/configuration.md, and each metric the gateway and its destination types register in
// docs/metrics.md. A feature that adds one of these without its row fails here.
import { Registry } from 'prom-client';
import t from 'tap';
import { ENV_OVERRIDES } from '../../src/config/config';
import { destinationRegistry } from '../../src/destinations/registry';
import { ERRORS, type ErrorCode } from '../../src/errors';
import { GatewayMetrics, METRIC_PREFIX } from '../../src/metrics/metrics';
import { readDoc } from './markdown';

/** The table rows of a Markdown file: each row's cells, trimmed. */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => /^\|.*\|\s*$/.test(line) && !/^\|[\s|:-]+\|\s*$/.test(line))
    .map((line) => line.replace(/^\||\|\s*$/g, '').split('|').map((cell) => cell.trim()));
}

t.test('docs/http-api.md: every error code in a row of its status', async (t) => {
  const rows = tableRows(readDoc('docs/http-api.md'));
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const status = String(ERRORS[code].status);
    const row = rows.find((cells) => cells[0] === status && cells[1] !== undefined && cells[1].split(/[,\s]+/).includes(`\`${code}\``));
    t.ok(row, `${code} (${status}) has a row`);
  }
});

t.test('docs/configuration.md: every environment variable', async (t) => {
  const text = readDoc('docs/configuration.md');
  for (const variable of Object.keys(ENV_OVERRIDES)) t.ok(text.includes(`\`${variable}\``), `${variable} is named`);
});

t.test('docs/metrics.md: every metric of the gateway and of each destination type', async (t) => {
  const metrics = new GatewayMetrics();
  const typeRegistry = new Registry();
  for (const type of destinationRegistry.types) type.metrics?.(typeRegistry);
  const names = [...metrics.registry.getMetricsAsArray(), ...typeRegistry.getMetricsAsArray()]
    .map((metric) => metric.name)
    .filter((name) => name.startsWith(METRIC_PREFIX))
    .map((name) => name.slice(METRIC_PREFIX.length));
  t.ok(names.length > 30, `${names.length} metrics found`);
  const text = readDoc('docs/metrics.md');
  for (const name of names) t.ok(text.includes(`\`${name}\``), `${name} is named`);
});
