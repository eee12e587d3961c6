#!/usr/bin/env node
import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { availableCpus } from './cluster/available-cpus';
import { repairOrphanMinuteFiles } from './cluster/orphan-minute-files';
import { adoptOrphanSpools } from './cluster/orphan-spools';
import { runPrimary } from './cluster/primary';
import { serveWorker } from './cluster/worker';
import { loadConfig } from './config/config';
import { deadLetterCommand } from './dead-letter-command';
import { spoolDir } from './destinations/create-destination';
import { destinationOptionsSchema, destinationRegistry } from './destinations/registry';
import { ConfigError } from './errors';
import { Gateway } from './gateway';
import { runGateway } from './lifecycle';
import { loadTopicsTree } from './topics/registry';
import { highestSchemaId } from './topics/schema-ids';
import { typescriptDeclarations } from './topics/typescript-declarations';

/** What a topic file may set under destinationOptions: what the destination types declare. */
const TOPIC_DESTINATION_OPTIONS = destinationOptionsSchema(destinationRegistry);

const USAGE = `usage:
  tracking-gateway serve [--config FILE]      run the gateway (config also from GATEWAY_CONFIG)
  tracking-gateway topics check [--dir DIR]   validate every topic under DIR (default ./topics)
  tracking-gateway topics types [--dir DIR] [--out FILE]
                                              TypeScript declarations of every topic's events (stdout without --out)
  tracking-gateway dead-letter list [FILTERS] [--limit N] [--json]
                                              dead letters, newest first
  tracking-gateway dead-letter show ID...     one entry, its payload as stored
  tracking-gateway dead-letter replay [ID...] [FILTERS] [--dry-run] [--admin URL]
                                              re-drive through today's validation (--dry-run: only
                                              check against the topics on disk and print what would pass)
  FILTERS: --topic SERVICE[/TOPIC] --reason invalid|event_too_large|too_large|malformed
           --since TIME --until TIME (RFC 3339 or ms since the epoch); all take --config FILE`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      dir: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      topic: { type: 'string' },
      reason: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      'dry-run': { type: 'boolean' },
      admin: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals[0] === 'dead-letter' && positionals[1] !== undefined) {
    const config = loadConfig(values.config ?? process.env.GATEWAY_CONFIG);
    try {
      return await deadLetterCommand(positionals[1], positionals.slice(2), values, config);
    } catch (err) {
      console.error(`tracking-gateway dead-letter: ${(err as Error).message}`);
      return 2;
    }
  }
  const command = positionals.join(' ');
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (command === 'serve' || command === '') return serve(values.config ?? process.env.GATEWAY_CONFIG);
  if (command === 'topics check') return checkTopics(values.dir ?? process.env.GATEWAY_TOPICS_DIR ?? './topics');
  if (command === 'topics types') return writeTypes(values.dir ?? process.env.GATEWAY_TOPICS_DIR ?? './topics', values.out);
  console.error(`unknown command "${command}"\n${USAGE}`);
  return 2;
}

function checkTopics(dir: string): number {
  const { topics, problems, retiredSchemaIds } = loadTopicsTree(dir, TOPIC_DESTINATION_OPTIONS);
  if (problems.length > 0) {
    for (const problem of problems) console.error(`✗ ${problem}`);
    console.error(`topics check: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${dir}`);
    return 1;
  }
  for (const t of topics) {
    const ids = [...t.versions.values()].map((v) => v.schemaId);
    const idText = ids.every((id) => id === undefined) ? 'no schema ids' : `schema ids ${ids.join(', ')}`;
    console.log(`✓ ${t.service}/${t.name}: v1..v${t.latestVersion}, default v${t.config.defaultVersion}, ${t.config.access}, ${idText}`);
  }
  console.log(`topics check: ${topics.length} topics OK in ${dir}; the next free schema id is ${highestSchemaId(topics, retiredSchemaIds) + 1}`);
  return 0;
}

/** Refuses a tree that `topics check` would refuse: its declarations would promise events the gateway refuses. */
function writeTypes(dir: string, out: string | undefined): number {
  const { topics, problems } = loadTopicsTree(dir, TOPIC_DESTINATION_OPTIONS);
  if (problems.length > 0) {
    for (const problem of problems) console.error(`✗ ${problem}`);
    console.error(`topics types: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${dir}; run topics check`);
    return 1;
  }
  const text = typescriptDeclarations(topics);
  if (out === undefined) {
    process.stdout.write(text);
    return 0;
  }
  writeFileSync(out, text);
  console.error(`topics types: ${topics.length} topics → ${out}`);
  return 0;
}

/** One gateway process, or (workers > 1) a primary that runs that many. */
async function serve(configPath: string | undefined): Promise<number> {
  const config = loadConfig(configPath);
  if (cluster.isWorker) await serveWorker(config);
  else {
    const workers = config.workers === 'auto' ? availableCpus() : config.workers;
    const adopted = await adoptOrphanSpools(spoolDir(config), workers);
    if (adopted > 0) pino({ base: { name: 'tracking-gateway' } }).warn({ segments: adopted, workers }, "spool segments of a run with other workers moved to this run's workers, to be replayed");
    if (workers > 1) {
      await repairOrphanMinuteFiles(config.dataDir, workers, pino({ base: { name: 'tracking-gateway' } }));
      await runPrimary(config, workers);
    }
    else await runGateway(new Gateway(config), config);
  }
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
