import { parse } from 'fast-querystring';
import { GatewayError } from '../errors';

// Query strings, read one way for every route and the pixel fast path: each parameter at
// most once, percent-encoding that decodes to valid UTF-8, and only the `$` names the API
// documents. Anything else is a 400 naming the parameter, never a silently changed value.

/** Names with a meaning of their own rather than a schema field's: version, cache busters, publishable key. */
export const QUERY_CONTROL_PARAMS = new Set(['v', 'cb', '_', 'k']);
/** The `$` names a query or form may carry: envelope attributes and the pixel's own. */
export const RESERVED_PARAMS = new Set(['$id', '$time', '$d', '$status']);

// A run of percent-escaped bytes ≥ 0x80: the only place a query can hold UTF-8 beyond ASCII
// that fast-querystring would decode (and leave as written when it cannot).
const ESCAPED_HIGH_BYTES = /(?:%[89a-fA-F][0-9a-fA-F])+/g;
/** The cheap test first: most pixel URLs escape only ASCII (`%3A%2F`), and then nothing is decoded. */
const ANY_HIGH_BYTE = /%[89a-fA-F]/;

export type Query = Record<string, string>;

/** The parameters of a URL's query string; throws BAD_PARAMETER naming the first bad one. */
export function readQuery(url: string): Query {
  const start = url.indexOf('?');
  if (start === -1 || start === url.length - 1) return Object.create(null) as Query;
  const text = url.slice(start + 1);
  if (ANY_HIGH_BYTE.test(text)) checkEscapes(text);
  const parsed = parse(text) as Record<string, string | string[]>;
  for (const key in parsed) {
    const value = parsed[key];
    if (typeof value !== 'string') {
      throw new GatewayError('BAD_PARAMETER', `parameter "${clip(key)}" is given ${value.length} times; send it once`);
    }
    if (key.charCodeAt(0) === 36 /* $ */ && !RESERVED_PARAMS.has(key)) {
      throw new GatewayError('BAD_PARAMETER', `parameter "${clip(key)}" is not one of the reserved names ${[...RESERVED_PARAMS].join(', ')}`);
    }
  }
  return parsed as Query;
}

function checkEscapes(text: string): void {
  for (const match of text.matchAll(ESCAPED_HIGH_BYTES)) {
    try {
      decodeURIComponent(match[0]);
    } catch {
      throw new GatewayError('BAD_PARAMETER', `query: "${clip(match[0])}" is not percent-encoded UTF-8`);
    }
  }
}

/** Enough of a client's text to recognise it, never the whole of it. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
