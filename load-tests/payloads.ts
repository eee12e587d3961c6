import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';

// Events shaped like the example topics' schemas, with the sizes real traffic has: page URLs
// of about 80 characters, orders of 1 to 5 line items. A seeded generator makes every run send
// the same bytes, so that two runs compare like with like.

const TOPICS_DIR = join(__dirname, '..', '..', 'topics');

/** Mulberry32: a small seeded PRNG; Math.random would make runs differ. */
export class Random {
  constructor(private state: number) {}

  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  token(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }
}

const PLACEMENTS = ['TOP', 'SIDEBAR', 'INLINE', 'FOOTER'] as const;
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const SECTIONS = ['news', 'sport', 'culture', 'business', 'travel', 'science'];

/** A publisher article URL of about 80 characters. */
function pageUrl(random: Random): string {
  const slug = `${random.token(8)}-${random.token(10)}-${random.token(12)}-${random.token(6)}`;
  return `https://www.publisher.example/${random.pick(SECTIONS)}/2024/${random.int(10, 12)}/${slug}.html`;
}

export interface Impression {
  widgetId: string;
  pageUrl: string;
  placement: (typeof PLACEMENTS)[number];
  position: number;
  referrer: string | null;
  visibleMs: number;
  aboveFold: boolean | null;
  viewportRatio: number;
}

/** A `widget/impression` v2 event. */
export function impression(random: Random): Impression {
  return {
    widgetId: `w-${random.token(12)}`,
    pageUrl: pageUrl(random),
    placement: random.pick(PLACEMENTS),
    position: random.int(0, 11),
    referrer: random.next() < 0.6 ? `https://search.example/?q=${random.token(14)}` : null,
    visibleMs: random.int(200, 30_000),
    aboveFold: random.next() < 0.5,
    viewportRatio: Math.round(random.next() * 100) / 100,
  };
}

/** The pixel URL a widget script builds: every field a query parameter. */
export function impressionPixelPath(event: Impression): string {
  const query = new URLSearchParams({
    widgetId: event.widgetId,
    pageUrl: event.pageUrl,
    placement: event.placement,
    position: String(event.position),
    visibleMs: String(event.visibleMs),
  });
  return `/v1/beacon/widget/impression?${query.toString()}`;
}

export interface OrderPlaced {
  orderId: string;
  customerId: string;
  placedAt: number;
  totalCents: number;
  currency: (typeof CURRENCIES)[number];
  couponCode: string | null;
  items: { sku: string; quantity: number; unitPriceCents: number }[];
}

/** A `shop/order-placed` v1 event with 1 to 5 line items. */
export function orderPlaced(random: Random): OrderPlaced {
  const items = Array.from({ length: random.int(1, 5) }, () => ({
    sku: `SKU-${random.token(4).toUpperCase()}-${random.int(1000, 9999)}`,
    quantity: random.int(1, 4),
    unitPriceCents: random.int(199, 24_999),
  }));
  return {
    orderId: `ord_${random.token(20)}`,
    customerId: `cus_${random.token(14)}`,
    placedAt: Date.now() - random.int(0, 60_000),
    totalCents: items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0),
    currency: random.pick(CURRENCIES),
    couponCode: random.next() < 0.2 ? `SAVE${random.int(5, 30)}` : null,
    items,
  };
}

/** The order-placed v1 schema, read from the repository so that the load follows the schema. */
const orderPlacedType = avro.Type.forSchema(JSON.parse(readFileSync(join(TOPICS_DIR, 'shop', 'order-placed', 'v1.avsc'), 'utf8')));

/** Concatenated binary datums: what `Content-Type: avro/binary` carries. */
export function avroDatums(events: readonly OrderPlaced[]): Buffer {
  return Buffer.concat(events.map((event) => orderPlacedType.toBuffer(event)));
}
