// The README's and docs' commands must work on a fresh clone: every file a curl example sends is
// in the repository, and the Avro example file is accepted as it is.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { injectableGateway, PROJECT_ROOT, readGzipLines, SERVICE_AUTH } from '../helpers/gateway';
import { docFiles, readDoc } from './markdown';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const allDocs = docFiles().map(readDoc).join('\n');

t.test('every file the README and docs send with --data-binary @FILE or --data @FILE exists', async (t) => {
  const files = [...allDocs.matchAll(/--data(?:-binary)? @([^\s'"]+)/g)].map((m) => m[1]).filter((f) => f !== '-');
  t.ok(files.length > 0, 'the README sends at least one file');
  for (const file of files) t.ok(existsSync(join(PROJECT_ROOT, file)), `${file} is in the repository`);
});

t.test('examples/orders.avro, the README Avro example, is accepted: two orders', async (t) => {
  t.match(readme, /--data-binary @examples\/orders\.avro http:\/\/localhost:8080\/v1\/events\/shop\/order-placed/);
  const { app, dataDir } = injectableGateway(t);
  const payload = readFileSync(join(PROJECT_ROOT, 'examples', 'orders.avro'));
  const res = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'avro/binary' }, payload });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.json().accepted, 2);
  const lines = readGzipLines(dataDir);
  t.same(lines.map((l) => l.data.orderId).sort(), ['2001', '2002']);
  t.equal(lines.find((l) => l.data.orderId === '2002').data.couponCode, 'WELCOME');
});
