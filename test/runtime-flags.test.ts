import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { GATEWAY_NODE_FLAGS } from '../load-tests/gateway-process';
import { PROJECT_ROOT } from './helpers/gateway';

// The gateway is started in three places; the benchmarks measure what users run only if all
// three give node the same flags.

t.test('npm start, the image and the load tests start node with the same flags', async (t) => {
  const start = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts.start as string;
  t.match(start, `node ${GATEWAY_NODE_FLAGS.join(' ')} dist/src/cli.js serve`, 'npm start');
  const entrypoint = readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8').match(/^ENTRYPOINT (.*)$/m)?.[1];
  t.ok(entrypoint, 'the Dockerfile has an ENTRYPOINT');
  t.same(JSON.parse(entrypoint!), ['/usr/bin/tini', '--', 'node', ...GATEWAY_NODE_FLAGS, 'dist/src/cli.js'], 'the image');
});
