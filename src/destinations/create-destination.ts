import { join } from 'node:path';
import type { DestinationConfig, GatewayConfig } from '../config/config';
import type { Destination, DestinationLog } from './destination';
import { FileDestination } from './file/file-destination';
import { FirehoseDestination } from './firehose/firehose-destination';
import { KafkaDestination } from './kafka/kafka-destination';
import type { KinesisMetrics } from './kinesis/kinesis-metrics';
import { kinesisType } from './kinesis/kinesis-type';
import type { GatewayMetrics } from '../metrics/metrics';

/** Builds the destination a config entry describes. */
export function createDestination(name: string, entry: DestinationConfig, config: Readonly<GatewayConfig>, metrics: GatewayMetrics, log: DestinationLog): Destination {
  switch (entry.type) {
    case 'file':
      return new FileDestination(name, entry.dir ?? config.dataDir, metrics, log);
    case 'firehose':
      return new FirehoseDestination(name, entry, metrics);
    case 'kafka':
      return new KafkaDestination(name, entry, metrics);
    case 'kinesis':
      return kinesisType.create(name, entry, { dataDir: config.dataDir, metrics: kinesisMetricsOf(metrics), gatewayMetrics: metrics, log });
  }
}

// The type's metrics are made once per registry (one per gateway; tests run several).
const kinesisMetrics = new WeakMap<GatewayMetrics, KinesisMetrics>();
function kinesisMetricsOf(metrics: GatewayMetrics): KinesisMetrics {
  let made = kinesisMetrics.get(metrics);
  if (made === undefined) kinesisMetrics.set(metrics, (made = kinesisType.metrics!(metrics.registry)));
  return made;
}

export function spoolDir(config: Readonly<GatewayConfig>): string {
  return config.spool.dir ?? join(config.dataDir, '_spool');
}

export function deadLetterDir(config: Readonly<GatewayConfig>): string {
  return config.deadLetter.dir ?? join(config.dataDir, '_dead-letter');
}
