import type { DestinationType } from '../destination-type';
import { FILE, fileSchema } from './config';
import { FileDestination } from './file-destination';

/** gzip NDJSON minute files (`type: file`): the embedded default, under dataDir unless `dir` says. */
export const fileType: DestinationType<typeof fileSchema> = {
  type: FILE,
  schema: fileSchema,
  create: (name, entry, { dataDir, gatewayMetrics, log }) => new FileDestination(name, entry.dir ?? dataDir, gatewayMetrics, log),
};
