// package.json must name only files the build makes: a `main` or `bin` pointing at nothing
// breaks `npx tracking-gateway` and anything that requires the package.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { main?: string; bin?: Record<string, string> };

t.test('every file package.json names exists after the build', async (t) => {
  const named = [...(pkg.main ? [pkg.main] : []), ...Object.values(pkg.bin ?? {})];
  t.ok(named.length > 0, 'package.json names its command');
  for (const file of named) t.ok(existsSync(path.join(repoRoot, file)), `${file} exists`);
});
