// What the docs tests read from the README and docs/*.md: prose (with code fences and code spans
// removed) for links, and the shell blocks for commands.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/gateway';

/** README.md and every docs/*.md, as paths relative to the project root. */
export function docFiles(): string[] {
  return ['README.md', ...readdirSync(join(PROJECT_ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
}

export function readDoc(file: string): string {
  return readFileSync(join(PROJECT_ROOT, file), 'utf8');
}

interface Block {
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
}

/** Fenced code blocks, with the word after the opening fence. */
export function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let open: Block | undefined;
  markdown.split('\n').forEach((line, index) => {
    if (!line.startsWith('```')) {
      if (open) open.text += `${line}\n`;
      return;
    }
    if (open) {
      blocks.push(open);
      open = undefined;
    } else open = { lang: line.slice(3).trim(), line: index + 1, text: '' };
  });
  return blocks;
}

/** The text outside code fences and code spans: where links are links. */
export function prose(markdown: string): string {
  let inFence = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) {
        inFence = !inFence;
        return '';
      }
      return inFence ? '' : line.replace(/`[^`]*`/g, '');
    })
    .join('\n');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const heading = inFence ? undefined : /^#{1,6} (.+)$/.exec(line)?.[1];
    if (!heading) continue;
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/`/g, '')
      .replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
