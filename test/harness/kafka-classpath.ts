import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheRoot, projectRoot } from './cache-dir';

const execFileAsync = promisify(execFile);

export interface KafkaClasspath {
  version: string;
  /** Folder holding every jar the broker needs; `join(libs, '*')` is the JVM class path. */
  libs: string;
  /** The log4j 1 configuration the broker is started with. */
  log4jConfig: string;
}

function pomDir(): string {
  return join(projectRoot(), 'test', 'harness', 'kafka');
}

/** The broker version, read from the pom so that it is set in one place only. */
async function kafkaVersion(pom: string): Promise<string> {
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(await readFile(pom, 'utf8'));
  if (!match) throw new Error(`${pom} does not set <kafka.version>`);
  return match[1].trim();
}

/**
 * The Kafka broker's jars, fetched from Maven Central on first use into
 * `<cache>/kafka/<version>/libs`. Maven is not run at all when that folder exists.
 * Maven's local repository is `<cache>/m2`, so a fresh clone on the same machine
 * reuses what an earlier one downloaded.
 */
export async function kafkaClasspath(): Promise<KafkaClasspath> {
  const pom = join(pomDir(), 'pom.xml');
  const version = await kafkaVersion(pom);
  const libs = join(cacheRoot(), 'kafka', version, 'libs');
  const log4jConfig = join(pomDir(), 'log4j.properties');
  if (existsSync(libs)) return { version, libs, log4jConfig };

  // Copy into a private folder and rename it into place, so an interrupted fetch
  // never leaves a half-filled libs folder that later runs would take as complete,
  // and test processes fetching at the same time do not see each other's files.
  const staging = `${libs}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await execFileAsync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        pom,
        `-Dmaven.repo.local=${join(cacheRoot(), 'm2')}`,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${staging}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`fetching Kafka ${version} with Maven failed:\n${stdout}${stderr}`, { cause: err });
  }
  try {
    await rename(staging, libs);
  } catch (err) {
    // Another process finished the same fetch first; its copy is as good as ours.
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(libs)) throw err;
  }
  return { version, libs, log4jConfig };
}
