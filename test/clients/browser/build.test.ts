import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { PROJECT_ROOT } from '../../helpers/gateway';

// What `npm run build` writes for browsers (clients/browser/build.mjs): the size budget, and
// the figures the README gives users — the integrity value they paste must be this build's.

const BUILT = join(PROJECT_ROOT, 'dist', 'clients', 'browser');
/** The budget: smaller than any peer's tracker. */
const GZIPPED_BUDGET = 2048;

const read = (name: string) => {
  try {
    return readFileSync(join(BUILT, name));
  } catch {
    throw new Error(`${name} is not built: run npm run build (tsc alone does not build the browser tracker)`);
  }
};

t.test('the tracker fits its budget: 2 KB gzipped', async (t) => {
  const gzipped = gzipSync(read('tracker.js'), { level: 9 }).length;
  t.ok(gzipped <= GZIPPED_BUDGET, `tracker.js: ${gzipped} bytes gzipped (budget ${GZIPPED_BUDGET})`);
  t.ok(gzipSync(read('tracker.mjs'), { level: 9 }).length <= GZIPPED_BUDGET, 'so does the ES module');
});

t.test('the IIFE defines TrackingGateway; the ES module exports create', async (t) => {
  t.match(read('tracker.js').toString(), /^"use strict";var TrackingGateway=\(\(\)=>\{/);
  t.match(read('tracker.mjs').toString(), /export\{[\w$]+ as create\};\s*$/);
  t.match(read('types/index.d.ts').toString(), /export \{ create, type Options, type Tracker \} from '\.\/tracker';/);
});

t.test("the README's snippet and size, and docs/browser.md's, are this build's", async (t) => {
  const script = read('tracker.js');
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const reference = readFileSync(join(PROJECT_ROOT, 'docs', 'browser.md'), 'utf8');
  const integrity = `sha384-${createHash('sha384').update(script).digest('base64')}`;
  const documented = /integrity="(sha384-[^"]+)"/.exec(readme)?.[1];
  t.equal(documented, integrity, 'the integrity value in the README snippet (take the new one from npm run build)');
  const gzipped = gzipSync(script, { level: 9 }).length.toLocaleString('en-US');
  const minified = script.length.toLocaleString('en-US');
  t.match(readme, `A tracker of ${gzipped} bytes gzipped`);
  t.match(reference, `\`tracker.js\` is ${minified} bytes minified, ${gzipped} bytes gzipped`);
});
