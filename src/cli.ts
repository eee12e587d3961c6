#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadConfig } from './config/config';
import { ConfigError } from './errors';
import { Gateway } from './gateway';
import { loadTopicsTree } from './topics/registry';

const USAGE = `usage:
  tracking-gateway serve [--config FILE]      run the gateway (config also from GATEWAY_CONFIG)
  tracking-gateway topics check [--dir DIR]   validate every topic under DIR (default ./topics)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals.join(' ');
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (command === 'serve' || command === '') return serve(values.config ?? process.env.GATEWAY_CONFIG);
  if (command === 'topics check') return checkTopics(values.dir ?? process.env.GATEWAY_TOPICS_DIR ?? './topics');
  console.error(`unknown command "${command}"\n${USAGE}`);
  return 2;
}

function checkTopics(dir: string): number {
  const { topics, problems } = loadTopicsTree(dir);
  if (problems.length > 0) {
    for (const problem of problems) console.error(`✗ ${problem}`);
    console.error(`topics check: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${dir}`);
    return 1;
  }
  for (const t of topics) console.log(`✓ ${t.service}/${t.name}: v1..v${t.latestVersion}, default v${t.config.defaultVersion}, ${t.config.access}`);
  console.log(`topics check: ${topics.length} topics OK in ${dir}`);
  return 0;
}

async function serve(configPath: string | undefined): Promise<number> {
  const config = loadConfig(configPath);
  const gateway = new Gateway(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.log.info({ signal }, 'shutting down: draining requests and buffers');
    // The grace period bounds shutdown; whatever could not finish by then is logged, not waited for.
    const deadline = setTimeout(() => {
      gateway.log.error({ graceMs: config.shutdown.graceMs }, 'shutdown grace period passed; exiting');
      process.exit(1);
    }, config.shutdown.graceMs);
    deadline.unref();
    gateway.close().then(
      () => {
        gateway.log.info('shut down cleanly');
        process.exit(0);
      },
      (err) => {
        gateway.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Rotation: the keys file is read again without a restart (it is also watched for changes).
  process.on('SIGHUP', () => gateway.reloadKeys());
  await gateway.start();
  return -1; // keep running until a signal
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof ConfigError) {
      console.error(`tracking-gateway: ${err.message}`);
      process.exit(1);
    }
    console.error(err);
    process.exit(1);
  },
);
