// Runs the real helm CLI against the chart and parses what it renders.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './kubernetes-schemas';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const chartDir = path.join(repoRoot, 'helm', 'tracking-gateway');

/** The cached helm, else one on PATH; null when scripts/ensure-helm.sh must install it. */
export function findHelm(): string | null {
  const cacheDir = process.env.TRACKING_GATEWAY_CACHE ?? path.join(repoRoot, '.cache');
  const cached = path.join(cacheDir, 'bin', 'helm');
  if (existsSync(cached)) return cached;
  const onPath = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'helm' : null;
}

export function ensureHelm(): string {
  return execFileSync('bash', [path.join(repoRoot, 'scripts', 'ensure-helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runHelm(helm: string, args: string[]): HelmResult {
  const result = spawnSync(helm, args, { encoding: 'utf8', cwd: repoRoot });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `helm template` with the given values files and --set pairs; throws with helm's stderr. */
export function renderChart(helm: string, valuesFiles: string[] = [], set: string[] = []): Manifest[] {
  const args = ['template', 'release', chartDir, '--namespace', 'ingest'];
  for (const file of valuesFiles) args.push('--values', file);
  for (const pair of set) args.push('--set', pair);
  const result = runHelm(helm, args);
  if (result.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}
