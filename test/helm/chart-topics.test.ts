// The chart ships the repository's topics (files/topics, in a ConfigMap) because helm cannot
// read files outside the chart. That copy must be the same as topics/, file for file and byte
// for byte; `npm run helm:topics` makes it so.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chartDir, repoRoot } from './helm-cli';

function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}

t.test("the chart's files/topics is the same as topics/", async (t) => {
  const source = path.join(repoRoot, 'topics');
  const copy = path.join(chartDir, 'files', 'topics');
  const sourceFiles = filesUnder(source);
  t.ok(sourceFiles.length >= 5, `topics/ holds the example topics (${sourceFiles.length} files)`);
  t.same(filesUnder(copy), sourceFiles, 'the same files; run `npm run helm:topics` after changing topics/');
  for (const file of sourceFiles) {
    const same = readFileSync(path.join(source, file)).equals(readFileSync(path.join(copy, file)));
    t.ok(same, `${file} has the same bytes in both; run \`npm run helm:topics\` after changing topics/`);
  }
});
