// The README's Segment example must work as written: the batch its curl sends is answered as
// the section says, one call stored and one refused by its field path.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { injectableGateway, PROJECT_ROOT, readGzipLines, SERVICE_AUTH } from '../helpers/gateway';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## From a Segment or RudderStack SDK'), readme.indexOf('## What a 2xx promises'));

t.test('the README Segment batch: the valid call stored, the other refused with its path, 200', async (t) => {
  const match = /curl -i -u dev-key: -H 'Content-Type: application\/json' \\\n\s+--data '([^']+)' \\\n\s+http:\/\/localhost:8080\/v1\/batch/.exec(section);
  t.ok(match, 'the section has the curl command');
  const { app, dataDir } = injectableGateway(t);
  const res = await app.inject({ method: 'POST', url: '/v1/batch', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: match![1] });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json(), { success: true, accepted: 1, refused: [{ index: 1, event: 'Order Placed', path: 'properties.customerId', message: 'required field is missing' }] });
  const lines = readGzipLines(dataDir);
  t.same(lines.map((l) => [l.id, l.data.orderId, l.time]), [['m-3001', '3001', '2026-11-25T08:00:00.000Z']]);
  t.ok(existsSync(join(PROJECT_ROOT, 'docs', 'segment.md')), 'the section links to docs/segment.md');
  t.match(section, /\(docs\/segment\.md\)/);
});
