import type { Type } from 'avsc';

/**
 * Backward compatibility by Avro schema resolution: why a reader of `reader` cannot read data
 * written with `writer`, or undefined when it can. `topics check` asks it of each version
 * against the one before, and the registry API's compatibility check asks the same.
 */
export function cannotRead(reader: Type, writer: Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
