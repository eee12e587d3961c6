// Every relative link in the READMEs and docs/*.md leads somewhere: the file or folder exists,
// and a #anchor names a heading of the Markdown file it points into (GitHub's anchors). Links
// to other sites are not fetched (the tests reach no site but 127.0.0.1).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from '../helpers/gateway';
import { docFiles, headingAnchors, prose, readDoc } from './markdown';

const LINK = /\[[^\]]*\]\(([^)\s]+)\)/g;

// The chart's and the load tests' READMEs link into docs/ too.
for (const file of [...docFiles(), 'helm/tracking-gateway/README.md', 'load-tests/README.md']) {
  t.test(`${file}: every relative link and anchor resolves`, async (t) => {
    const links = [...prose(readDoc(file)).matchAll(LINK)].map((m) => m[1]).filter((target) => !/^[a-z][a-z+.-]*:/i.test(target));
    for (const target of links) {
      const [path, anchor] = target.split('#', 2);
      const resolved = path ? normalize(join(dirname(join(PROJECT_ROOT, file)), decodeURI(path))) : join(PROJECT_ROOT, file);
      if (!resolved.startsWith(PROJECT_ROOT)) {
        t.fail(`${target} leaves the repository`);
        continue;
      }
      if (!existsSync(resolved)) {
        t.fail(`${target}: no ${resolved.slice(PROJECT_ROOT.length + 1)}`);
        continue;
      }
      if (anchor === undefined) {
        t.pass(target);
        continue;
      }
      if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) {
        t.fail(`${target}: an anchor into a file that is not Markdown`);
        continue;
      }
      t.ok(headingAnchors(readFileSync(resolved, 'utf8')).has(anchor), `${target}: a heading with anchor #${anchor}`);
    }
  });
}

t.test('the README is a front door: short, and links to each reference file in docs/', async (t) => {
  const readme = readDoc('README.md');
  t.ok(readme.split('\n').length < 250, `${readme.split('\n').length} lines`);
  for (const file of docFiles().filter((f) => f !== 'README.md')) t.match(readme, `](${file})`, `links ${file}`);
});
