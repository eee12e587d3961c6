// Builds the browser tracker (part of `npm run build`, after tsc has checked it and written its
// declarations): dist/clients/browser/tracker.js, the IIFE that defines
// window.TrackingGateway and that the gateway serves, and tracker.mjs, the ES module for
// bundlers. Prints each file's size, gzipped as the gateway serves it, and the IIFE's
// Subresource Integrity hash for the <script integrity> attribute.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'dist', 'clients', 'browser');
const common = { entryPoints: [join(here, 'src', 'index.ts')], bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' };

await build({ ...common, format: 'iife', globalName: 'TrackingGateway', outfile: join(out, 'tracker.js') });
await build({ ...common, format: 'esm', outfile: join(out, 'tracker.mjs') });

for (const name of ['tracker.js', 'tracker.mjs']) {
  const bytes = readFileSync(join(out, name));
  // Level 9, as src/http/routes/tracker.ts compresses it once at start.
  console.log(`${name}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped`);
}
const iife = readFileSync(join(out, 'tracker.js'));
console.log(`tracker.js integrity: sha384-${createHash('sha384').update(iife).digest('base64')}`);
