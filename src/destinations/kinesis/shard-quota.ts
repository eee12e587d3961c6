import type { Quota } from '../util/throughput-limiter';
import { SHARD_BYTES_PER_SECOND, SHARD_RECORDS_PER_SECOND } from './limits';

/**
 * A stream's write quota: what the config sets, else 1,000 records/s and 1 MiB/s per open
 * shard once the shard count is known (nothing before: the learned rate alone then). The
 * ThroughputLimiter reads it on every call, so a new shard count applies at once. Kinesis
 * enforces the quota per shard: keys that crowd one shard throttle below the stream's sum, and
 * the learned rate takes care of that.
 */
export class ShardQuota implements Quota {
  /** Open shards by the last DescribeStreamSummary; undefined until one answered. */
  shards: number | undefined;

  constructor(private readonly configured: Quota) {}

  get recordsPerSecond(): number | undefined {
    return this.configured.recordsPerSecond ?? (this.shards === undefined ? undefined : this.shards * SHARD_RECORDS_PER_SECOND);
  }

  get bytesPerSecond(): number | undefined {
    return this.configured.bytesPerSecond ?? (this.shards === undefined ? undefined : this.shards * SHARD_BYTES_PER_SECOND);
  }

  get requestsPerSecond(): number | undefined {
    return this.configured.requestsPerSecond;
  }
}
