import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors';
import { mayHoldAvroBlocks } from './body-decoding';

// How many bytes the requests of one process may be decoding at once. Each request's body
// limits bound one request; this bounds their sum, which is what a pod's memory must hold:
// 48 clients each sending a 56 KB gzip body that inflates to 14 MB made one worker hold
// 1.3–1.7 GB (and glibc kept most of it after the load).
//
// A request reserves its weight before a byte of its body is read (a preParsing hook, after
// the key and rate limits have let it through): the body as it will arrive (Content-Length,
// or server.bodyLimitBytes when chunked) and what it may decode to (server.maxDecodedBytes
// when it has a Content-Encoding, else the body again, for its text; and maxDecodedBytes more
// for an Avro body, whose container blocks inflate one at a time in the route). Once the body is in and
// inflated, the reservation shrinks to what it actually holds; it is released when the answer
// is sent or the client goes. A request that does not fit waits, in arrival order, up to
// server.decodeWaitMs — it holds only its socket meanwhile, since its body is not read yet
// (TCP holds the sender back) — then gets 503 OVERLOADED with Retry-After. Waiting absorbs
// a burst without a retry; the 503 tells a client behind a long queue to come back rather
// than hold the connection. A request alone is always admitted, whatever it weighs, so that
// a budget smaller than one request's limits slows requests down but never refuses them all.

export interface DecodeBudgetLimits {
  /** The sum of every reservation (server.decodeBudgetBytes). */
  budgetBytes: number;
  /** The longest a request waits for room (server.decodeWaitMs). */
  waitMs: number;
  bodyLimitBytes: number;
  maxDecodedBytes: number;
  retryAfterSeconds: number;
}

/** What one admitted request holds of the budget; `release` is idempotent. */
export interface Reservation {
  readonly bytes: number;
  /** Lowers the reservation to what the request turned out to hold (never raises it). */
  shrinkTo(bytes: number): void;
  release(): void;
}

interface Waiter {
  bytes: number;
  admit: (reservation: Reservation) => void;
  timer: NodeJS.Timeout;
}

export class DecodeBudget {
  private reservedBytes = 0;
  private inFlight = 0;
  private readonly waiting: Waiter[] = [];
  /** Requests refused because they did not get room in time. */
  refusals = 0;

  constructor(
    private readonly limits: DecodeBudgetLimits,
    /** Called with each reservation's bytes when it is released, when nothing is in flight any more, and when something is again. */
    private readonly events: { released?: (bytes: number) => void; idle?: () => void; active?: () => void } = {},
  ) {}


  /** Bytes reserved now, for the gauge. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /**
   * What a request with these headers may hold while decoding: 0 for one without a body.
   * The Content-Length is the client's word, but Fastify refuses a body longer than it says
   * (and one over bodyLimitBytes), so it bounds what is read.
   */
  weightOf(headers: IncomingHttpHeaders): number {
    const { bodyLimitBytes, maxDecodedBytes } = this.limits;
    const length = headers['content-length'];
    const chunked = headers['transfer-encoding'] !== undefined;
    let body = chunked ? bodyLimitBytes : length === undefined ? 0 : Math.min(Number(length) || 0, bodyLimitBytes);
    if (!Number.isFinite(body) || body < 0) body = bodyLimitBytes;
    if (body === 0) return 0;
    const coding = headers['content-encoding']?.trim().toLowerCase();
    const encoded = coding !== undefined && coding !== '' && coding !== 'identity';
    return body + (encoded ? maxDecodedBytes : body) + this.blockBytes(headers);
  }

  /** What an Avro container's block holds once inflated, beyond the body: held until the answer. */
  blockBytes(headers: IncomingHttpHeaders): number {
    return mayHoldAvroBlocks(headers['content-type']) ? this.limits.maxDecodedBytes : 0;
  }

  /** Resolves once `bytes` fit (or nothing else is decoding); rejects with OVERLOADED after waitMs. */
  reserve(bytes: number): Promise<Reservation> {
    if (this.waiting.length === 0 && this.fits(bytes)) return Promise.resolve(this.take(bytes));
    return new Promise<Reservation>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        admit: resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          this.refusals++;
          reject(
            new GatewayError('OVERLOADED', `the gateway is decoding as many request bodies as its memory budget takes (server.decodeBudgetBytes); retry in ${this.limits.retryAfterSeconds} s`, {
              retryAfterSeconds: this.limits.retryAfterSeconds,
            }),
          );
          // A large request at the head that gave up may have been what held smaller ones back.
          this.admitWaiting();
        }, this.limits.waitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.reservedBytes + bytes <= this.limits.budgetBytes;
  }

  private take(bytes: number): Reservation {
    this.reservedBytes += bytes;
    if (this.inFlight++ === 0) this.events.active?.();
    let held = bytes;
    /** The most this request held: what it cost while it decoded. */
    const peak = bytes;
    let released = false;
    return {
      get bytes() {
        return held;
      },
      shrinkTo: (to: number) => {
        if (released || to >= held) return;
        this.reservedBytes -= held - Math.max(0, to);
        held = Math.max(0, to);
        this.admitWaiting();
      },
      release: () => {
        if (released) return;
        released = true;
        this.reservedBytes -= held;
        this.inFlight--;
        this.events.released?.(peak);
        this.admitWaiting();
        if (this.inFlight === 0) this.events.idle?.();
      },
    };
  }

  /** Admits waiters in arrival order while the first fits: a large one is not overtaken for ever. */
  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const waiter = this.waiting.shift()!;
      clearTimeout(waiter.timer);
      waiter.admit(this.take(waiter.bytes));
    }
  }
}
