// Runs the real helm CLI against the chart and parses what it renders.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './kubernetes-schemas';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const chartDir = path.join(repoRoot, 'helm', 'tracking-gateway');

/**
 * The helm the chart tests run: the one `HELM` names, else the pinned build that
 * scripts/ensure-helm.sh keeps in the cache (built on first use). Never whatever `helm` is first
 * on the PATH: a plain `go install` of helm assumes Kubernetes 1.20 and fails the chart's
 * kubeVersion check.
 */
export function chooseHelm(env: NodeJS.ProcessEnv = process.env): { path: string; source: string } {
  if (env.HELM) return { path: env.HELM, source: 'HELM' };
  return { path: ensureHelm(), source: 'pinned by scripts/ensure-helm.sh' };
}

/** Builds (or finds, with its stamp) the pinned helm in the cache; its path. */
export function ensureHelm(): string {
  return execFileSync('bash', [path.join(repoRoot, 'scripts', 'ensure-helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** `helm version --short` of a helm binary, e.g. `v3.22.0+g…`. */
export function helmVersion(helm: string): string {
  const result = spawnSync(helm, ['version', '--short'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${helm} version failed: ${result.stderr || result.error?.message}`);
  return result.stdout.trim();
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
