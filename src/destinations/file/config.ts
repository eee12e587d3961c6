export interface FileDestinationConfig {
  type: 'file';
  /** Root folder; files go to <dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz. */
  dir?: string;
}

export const fileDestinationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { const: 'file' },
    dir: { type: 'string', minLength: 1 },
    batch: { $ref: 'batch' },
  },
} as const;
