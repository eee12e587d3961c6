import type { DestinationType } from '../destination-type';
import { FILE, fileSchema } from './config';
import { FileDestination } from './file-destination';
import { defaultHostId, fileS3Env } from './s3-shipping-config';
import { s3ShippingMetrics, type S3ShippingMetrics } from './s3-shipping-metrics';

/**
 * gzip NDJSON minute files (`type: file`): the embedded default, under dataDir unless `dir`
 * says; with `s3`, each closed minute file is shipped to S3.
 */
export const fileType: DestinationType<typeof fileSchema, S3ShippingMetrics> = {
  type: FILE,
  schema: fileSchema,
  env: fileS3Env,
  // Two sends at once: one batch is serialised while the one before it is gzipped and fsynced
  // (each group's write waits on event-loop turns the requests being parsed also want), and a
  // batch may grow past the 1,000 of the global default while a send is in flight, so that
  // more events share a gzip member and an fdatasync. 5,000 lines bound the time one batch's
  // serialisation holds the event loop (about 1.3 µs a line).
  batchDefaults: { maxRecords: 5000, maxBytes: 4 * 1024 * 1024, maxInFlight: 2 },
  metrics: s3ShippingMetrics,
  forWorker(entry, worker) {
    entry.dir = worker.own(entry.dir ?? worker.dataDir);
    if (entry.s3) {
      // Worker N ships its own files under keys of its own: two writers never share a key.
      entry.s3.hostId = `${entry.s3.hostId ?? defaultHostId()}-w${worker.id}`;
      entry.s3.maxPendingBytes = worker.share(entry.s3.maxPendingBytes);
    }
  },
  create: (name, entry, { dataDir, metrics, gatewayMetrics, log }) =>
    new FileDestination(name, entry.dir ?? dataDir, gatewayMetrics, log, entry.s3 && { settings: entry.s3, metrics }),
};
