import type { Static, TObject } from '@sinclair/typebox';
import type { Registry } from 'prom-client';
import type { GatewayMetrics } from '../metrics/metrics';
import type { Topic } from '../topics/registry';
import type { Destination, DestinationLog } from './destination';

// What a destination type tells the core, so that the core names no vendor: each folder under
// src/destinations exports one DestinationType, and registry.ts lists them. Config
// validation, environment overrides, batch defaults, metrics and construction all come from
// here.

/** The batch settings every destination entry may override (config key `batch`). */
export interface BatchConfig {
  /** Flush when this many records are waiting. */
  maxRecords: number;
  /** Flush when this many bytes are waiting. */
  maxBytes: number;
  /** Flush at the latest this long after the first record arrived. */
  lingerMs: number;
  /** Sends in flight at once to one destination; the next batch fills meanwhile. */
  maxInFlight: number;
}

/** What every destination entry has besides its type's own keys. */
export interface DestinationEntry {
  type: string;
  batch?: Partial<BatchConfig>;
}

/** A validated entry as create() and finish() get it: the type's own keys, `type` and `batch`. */
export type EntryOf<Schema extends TObject> = Static<Schema> & DestinationEntry;

/** What create() is given besides the entry. */
export interface DestinationTypeContext<Metrics> {
  /** The gateway's data folder (the file destination's default root). */
  dataDir: string;
  /** The type's own metrics, made once per process by `metrics()`. */
  metrics: Metrics;
  /** The metrics every destination shares (learned rate, background errors, disk failures). */
  gatewayMetrics: GatewayMetrics;
  log: DestinationLog;
}

/** Environment variables that make or change entries of one type, applied before validation. */
export interface DestinationEnv {
  /**
   * Applies the variables to the raw `destinations` mapping (created when the config file has
   * none). `fromFile`: the file named destinations itself, so variables that would add a
   * default chain leave it alone.
   */
  apply(destinations: Record<string, unknown>, env: NodeJS.ProcessEnv, fromFile: boolean): void;
  /** For error messages: which variable set a config key (`destinations.<name>.<key>`), if any. */
  variableFor(key: string): string | undefined;
}

export interface DestinationType<Schema extends TObject = TObject, Metrics = unknown, TopicOptions extends TObject = TObject> {
  /** The `type` a config entry names. */
  readonly type: string;
  /**
   * The entry's keys other than `type` and `batch`, with defaults: one TypeBox schema is both
   * the JSON Schema ajv validates and, through Static, the TypeScript type create() gets.
   */
  readonly schema: Schema;
  readonly env?: DestinationEnv;
  /** Batch settings that suit this type better than the gateway's (its entry's own still win). */
  readonly batchDefaults?: Partial<BatchConfig>;
  /**
   * Checks and derived values across the validated entry and the gateway's batch settings (e.g.
   * a batch must fit one request); returns problems, each naming its key within the entry (the
   * config prefixes `destinations.<name>: `).
   */
  finish?(entry: EntryOf<Schema>, batch: BatchConfig): string[];
  /**
   * What a topic may set for destinations of this type, under `destinationOptions.<type>` in its
   * topic file (e.g. the Kafka topic name, Kinesis' value format); validated with the topic.
   */
  readonly topicOptions?: TopicOptions;
  /**
   * Makes the type's own metrics, registered in `registry`: once per registry (one per
   * process; a cluster's primary adds up its workers'), when the first destination of the type
   * is created.
   */
  metrics?(registry: Registry): Metrics;
  /**
   * Adjusts a copy of an entry for worker `worker.id` of a cluster (src/cluster), so that no
   * two workers write the same file or object: its own folders, its share of byte bounds.
   */
  forWorker?(entry: EntryOf<Schema>, worker: WorkerShare): void;
  create(name: string, entry: EntryOf<Schema>, context: DestinationTypeContext<Metrics>): Destination;
}

/** What a destination type needs to give one worker of a cluster its own part of an entry. */
export interface WorkerShare {
  /** 1-based. */
  id: number;
  count: number;
  /** The gateway's dataDir (the cluster's, not the worker's). */
  dataDir: string;
  /** The worker's own folder under `dir`. */
  own(dir: string): string;
  /** The worker's share of a byte bound. */
  share(bytes: number): number;
}

/**
 * What `topic` sets under `destinationOptions.<type>` for destinations of `type`, if anything.
 * The topic's file was validated against the type's `topicOptions` when it was loaded, so the
 * value has that shape.
 */
export function topicOptions<Options extends TObject>(topic: Topic, type: { readonly type: string; readonly topicOptions?: Options }): Static<Options> | undefined {
  return topic.config.destinationOptions[type.type] as Static<Options> | undefined;
}
