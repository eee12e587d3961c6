// schemathesis (https://schemathesis.readthedocs.io), a property-based fuzzer driven by an
// OpenAPI document: it generates requests from the document and checks every answer against
// it. A Python package, installed on first use into its own virtualenv under .cache/.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './cache-dir';
import { ensureVenv } from './python-venv';

// Pinned so that every machine fuzzes with the same generators and checks; bump deliberately.
export const SCHEMATHESIS_VERSION = '4.32.5';

/** Serializers for NDJSON and Avro bodies (schemathesis-hooks.py, beside this file's source). */
const HOOKS_FILE = join(projectRoot(), 'test', 'harness', 'schemathesis-hooks.py');

export interface SchemathesisRun {
  /** 0: every check passed; 1: a check failed; other: schemathesis itself could not run. */
  code: number | null;
  output: string;
}

/** The `schemathesis` executable, installing it first when needed. */
export async function schemathesisBin(): Promise<string> {
  const venv = await ensureVenv({ name: 'schemathesis-venv', requirement: `schemathesis==${SCHEMATHESIS_VERSION}`, marker: '.schemathesis-version', stamp: SCHEMATHESIS_VERSION });
  return join(venv, 'bin', 'schemathesis');
}

/** `schemathesis run <args>`, killed after `timeoutMs` (then `code` is null). */
export async function runSchemathesis(args: string[], timeoutMs: number, cwd: string): Promise<SchemathesisRun> {
  const bin = await schemathesisBin();
  return new Promise((done) => {
    execFile(
      bin,
      ['run', ...args],
      {
        cwd,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, SCHEMATHESIS_HOOKS: HOOKS_FILE, NO_COLOR: '1', COLUMNS: '120' },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        done({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}
