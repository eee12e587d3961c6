import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from './helpers/gateway';

// The project brings its own Node.js (the `node` package pinned as a dev dependency); npm puts
// it first on the PATH of `npm test`, `npm start` and `npx tap`, and tap and every child
// gateway the tests start run on process.execPath. A machine whose system Node is older must
// still test on 24, so this fails when anything started the tests on another Node.

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));

t.test('the tests run on Node.js 24', async (t) => {
  t.match(process.version, /^v24\./, `process.version ${process.version} (${process.execPath})`);
});

t.test('package.json, the pinned node package and the image agree on 24', async (t) => {
  t.match(pkg.engines.node, /^\^24\./, 'engines');
  t.match(pkg.devDependencies.node, /^24\.\d+\.\d+$/, 'the pinned node package');
  t.equal(pkg.allowScripts?.node, true, 'npm may run the node package\'s install script, which fetches the binary');
  t.equal(process.version, `v${pkg.devDependencies.node}`, 'the binary is the pinned one');
  t.match(pkg.devDependencies['@types/node'], /^\^24\./, '@types/node');
  t.match(readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8'), /^ARG NODE_IMAGE=node:24-/m, 'the Dockerfile base image');
});
