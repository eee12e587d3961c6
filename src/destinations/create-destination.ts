import { join } from 'node:path';
import type { DestinationConfig, GatewayConfig } from '../config/config';
import type { Destination, DestinationLog } from './destination';
import { FileDestination } from './file/file-destination';
import { FirehoseDestination } from './firehose/firehose-destination';
import { KafkaDestination } from './kafka/kafka-destination';
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
  }
}

export function spoolDir(config: Readonly<GatewayConfig>): string {
  return config.spool.dir ?? join(config.dataDir, '_spool');
}

export function deadLetterDir(config: Readonly<GatewayConfig>): string {
  return config.deadLetter.dir ?? join(config.dataDir, '_dead-letter');
}
