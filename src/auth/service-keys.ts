import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { ConfigError, GatewayError } from '../errors';

// Keys for the service endpoint. Each names what it may write: services, service/topic pairs
// or `*`. Keys are held only as SHA-256 digests and a presented key is compared with every
// digest in constant time, so neither memory nor timing gives one away; logs and metrics name
// a key by a short fingerprint of its digest, never by the key.
//
// Sources, all merged: the config file (`auth.keys`), `GATEWAY_KEYS` ("key=scope;key=scope"),
// and a keys file (`auth.keysFile` / `GATEWAY_KEYS_FILE`, one "key=scope" a line: a mounted
// Kubernetes Secret). The file is read again on SIGHUP and when it changes, so a key is
// rotated by adding the new line, moving clients over, then removing the old one.

export interface ServiceKey {
  /** For logs: `name` from the config, else `sha256:` and the digest's first 8 hex digits. */
  name: string;
  /** Rate-limit class (`rateLimit.keyClasses`); `default` unless the config names one. */
  keyClass: string;
  digest: Buffer;
  /** `*`, `service` or `service/topic`. */
  scopes: ReadonlySet<string>;
}

export interface ConfiguredKey {
  key?: string;
  sha256?: string;
  scopes: string[];
  class?: string;
  name?: string;
}

const MAX_KEY_LENGTH = 256;
const SCOPE = /^(\*|[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)?)$/;
const HASHED = /^sha256:([0-9a-f]{64})$/i;
/** How often the keys file is checked for a change (a Secret update swaps a symlink). */
const WATCH_INTERVAL_MS = 1_000;

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function makeKey(secret: { key?: string; sha256?: string }, scopes: string[], where: string, keyClass = 'default', name?: string): ServiceKey {
  let digest: Buffer;
  if (secret.sha256 !== undefined) {
    const hex = HASHED.exec(`sha256:${secret.sha256.replace(/^sha256:/i, '')}`)?.[1];
    if (!hex) throw new ConfigError(`${where}: sha256 must be 64 hex digits`);
    digest = Buffer.from(hex, 'hex');
  } else {
    const key = secret.key ?? '';
    const hashed = HASHED.exec(key);
    if (hashed) digest = Buffer.from(hashed[1], 'hex');
    else if (key.length === 0 || key.length > MAX_KEY_LENGTH || /[\s,;=]/.test(key)) {
      throw new ConfigError(`${where}: a key is 1 to ${MAX_KEY_LENGTH} characters without spaces, ",", ";" or "="`);
    } else digest = digestOf(key);
  }
  if (scopes.length === 0) throw new ConfigError(`${where}: a key needs at least one scope (service, service/topic or *)`);
  for (const scope of scopes) {
    if (!SCOPE.test(scope)) throw new ConfigError(`${where}: scope "${scope.slice(0, 64)}" is not "*", "service" or "service/topic"`);
  }
  return { name: name ?? `sha256:${digest.toString('hex').slice(0, 8)}`, keyClass, digest, scopes: new Set(scopes) };
}

/** `key=scope[,scope…]` entries separated by newlines or `;`; `#` starts a comment. */
export function parseKeyLines(text: string, source: string): ServiceKey[] {
  const keys: ServiceKey[] = [];
  const entries = text.split(/[\n;]/);
  entries.forEach((raw, i) => {
    const entry = raw.replace(/#.*$/, '').trim();
    if (entry === '') return;
    const eq = entry.lastIndexOf('=');
    // The key is never quoted in an error: it may be a real one with a typo after it.
    if (eq <= 0) throw new ConfigError(`${source}, entry ${i + 1}: expected key=scope`);
    const scopes = entry.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean);
    keys.push(makeKey({ key: entry.slice(0, eq).trim() }, scopes, `${source}, entry ${i + 1}`));
  });
  return keys;
}

export function keysFromConfig(entries: readonly ConfiguredKey[]): ServiceKey[] {
  return entries.map((entry, i) => {
    if ((entry.key === undefined) === (entry.sha256 === undefined)) throw new ConfigError(`invalid config:\n  auth.keys.${i} needs exactly one of key, sha256`);
    return makeKey(entry, entry.scopes, `auth.keys.${i}`, entry.class, entry.name);
  });
}

export interface KeyRingLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export class KeyRing {
  private fileKeys: ServiceKey[] = [];
  private keys: ServiceKey[];

  constructor(
    private readonly staticKeys: ServiceKey[],
    private readonly keysFile: string | undefined,
    private readonly log: KeyRingLog,
  ) {
    if (keysFile !== undefined) this.fileKeys = parseKeyLines(readKeysFile(keysFile), keysFile);
    this.keys = [...staticKeys, ...this.fileKeys];
  }

  get size(): number {
    return this.keys.length;
  }

  /** Reads the keys file again; on a problem the keys in force stay, and the reason is logged. */
  reload(): boolean {
    if (this.keysFile === undefined) return true;
    try {
      this.fileKeys = parseKeyLines(readKeysFile(this.keysFile), this.keysFile);
    } catch (err) {
      this.log.error({ file: this.keysFile, err: (err as Error).message }, 'service keys not reloaded; the previous keys stay in force');
      return false;
    }
    this.keys = [...this.staticKeys, ...this.fileKeys];
    this.log.info({ file: this.keysFile, keys: this.keys.length }, 'service keys reloaded');
    return true;
  }

  /** Calls `onChange` (which reloads) when the keys file changes; `close` stops watching. */
  watch(onChange: () => void): void {
    if (this.keysFile === undefined) return;
    watchFile(this.keysFile, { interval: WATCH_INTERVAL_MS, persistent: false }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) onChange();
    });
  }

  close(): void {
    if (this.keysFile !== undefined) unwatchFile(this.keysFile);
  }

  /**
   * The key an Authorization header carries: `Bearer <key>`, or Basic with the key as the
   * user name (what Segment-style SDKs send). 401 when absent or unknown.
   */
  authenticate(header: string | undefined): ServiceKey {
    const presented = presentedKey(header);
    if (presented === undefined) {
      throw new GatewayError('UNAUTHORIZED', 'this endpoint needs a service key: send Authorization: Bearer <key>, or Basic auth with the key as the user name');
    }
    const digest = digestOf(presented);
    let found: ServiceKey | undefined;
    // Every digest is compared, whether or not one matched already: the time taken says nothing.
    for (const key of this.keys) if (timingSafeEqual(key.digest, digest) && found === undefined) found = key;
    if (found === undefined) throw new GatewayError('UNAUTHORIZED', 'the service key is not valid (unknown, or rotated out)');
    return found;
  }

  /** 403 unless the key's scopes cover the topic. */
  authorize(key: ServiceKey, service: string, topic: string): void {
    const { scopes } = key;
    if (scopes.has('*') || scopes.has(service) || scopes.has(`${service}/${topic}`)) return;
    throw new GatewayError('FORBIDDEN_SCOPE', `key ${key.name} may not write ${service}/${topic}; its scopes are ${[...scopes].join(', ')}`);
  }
}

function readKeysFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`keys file ${path}: cannot read (${(err as Error).message})`);
  }
}

/** The key an Authorization header presents (Bearer, or Basic's user name), whether or not it is a service key. */
export function presentedKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  if (space === -1) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const credentials = header.slice(space + 1).trim();
  let key: string | undefined;
  if (scheme === 'bearer') key = credentials;
  else if (scheme === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    key = colon === -1 ? decoded : decoded.slice(0, colon);
  }
  return key !== undefined && key.length > 0 && key.length <= MAX_KEY_LENGTH ? key : undefined;
}
