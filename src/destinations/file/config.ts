import { s3ShippingSchema, type S3Shipping } from './s3-shipping-config';

export interface FileDestinationConfig {
  type: 'file';
  /** Root folder; files go to <dir>/<service>/<topic>/<YYYY-MM-DD>/<HH-mm>.ndjson.gz. */
  dir?: string;
  /** Ship closed minute files to S3 (s3-shipper.ts). */
  s3?: S3Shipping;
}

export const fileDestinationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { const: 'file' },
    dir: { type: 'string', minLength: 1 },
    s3: s3ShippingSchema,
    batch: { $ref: 'batch' },
  },
} as const;
