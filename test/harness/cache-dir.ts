import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The repository root: the nearest folder above this file with a package.json.
 * Found by walking up because this module runs both as test/harness/*.ts and
 * compiled as dist/test/harness/*.js.
 */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/**
 * Where test tooling keeps downloads and run state: `<project>/.cache` (gitignored),
 * or `$TRACKING_GATEWAY_CACHE` so several clones on one machine can share one cache.
 */
export function cacheRoot(): string {
  const override = process.env.TRACKING_GATEWAY_CACHE;
  return override ? resolve(override) : join(projectRoot(), '.cache');
}
