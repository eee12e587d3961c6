import type { GatewayMetrics } from '../metrics/metrics';

/**
 * The process-wide bound on bytes of accepted, undelivered events. A request reserves its
 * events' bytes before it is accepted and they are released when delivered, dead-lettered or
 * spooled; when the bound would be passed the request is refused with 503 instead of letting
 * the heap grow until the process dies.
 */
export class MemoryBudget {
  private used = 0;

  constructor(
    readonly limitBytes: number,
    metrics: GatewayMetrics,
  ) {
    metrics.bufferLimitBytes.set(limitBytes);
    metrics.bufferBytes.sample = () => this.used;
  }

  get usedBytes(): number {
    return this.used;
  }

  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}
