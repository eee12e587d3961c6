import { Type, type Static } from '@sinclair/typebox';

/** The type name config entries give. */
export const FILE = 'file';

/** gzip NDJSON minute files on local disk. */
export const fileSchema = Type.Object(
  {
    /** Root folder, else the gateway's dataDir; files go to <dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz. */
    dir: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export type FileConfig = Static<typeof fileSchema>;
