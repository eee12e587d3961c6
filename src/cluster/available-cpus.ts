import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

// The CPUs this container may use: the CPUs the process may run on (availableParallelism,
// which honours affinity and cpusets) capped by the cgroup's CPU quota, which Node does not
// read. A pod with `limits.cpu: 2` on a 32-core node sees 32 CPUs but is throttled after
// two CPUs' worth of time per period; 32 workers there would only fight over that time.

/**
 * cgroup v2: `cpu.max` holds "<quota> <period>" in µs, or "max <period>" for no limit.
 * https://docs.kernel.org/admin-guide/cgroup-v2.html#cpu-interface-files
 */
const CGROUP_V2_CPU_MAX = '/sys/fs/cgroup/cpu.max';
/**
 * cgroup v1: the same pair in two files, -1 for no limit.
 * https://docs.kernel.org/scheduler/sched-bwc.html
 */
const CGROUP_V1_QUOTA = '/sys/fs/cgroup/cpu/cpu.cfs_quota_us';
const CGROUP_V1_PERIOD = '/sys/fs/cgroup/cpu/cpu.cfs_period_us';

/** The quota in CPUs (1.5 for "150000 100000"), or undefined when there is none or it cannot be read. */
export function cgroupCpuQuota(read: (path: string) => string = (path) => readFileSync(path, 'utf8')): number | undefined {
  const v2 = tryRead(read, CGROUP_V2_CPU_MAX);
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    return quotaOf(quota, period);
  }
  const quota = tryRead(read, CGROUP_V1_QUOTA);
  const period = tryRead(read, CGROUP_V1_PERIOD);
  return quota === undefined || period === undefined ? undefined : quotaOf(quota.trim(), period.trim());
}

/**
 * Whole CPUs to run workers on: the quota rounded up (1.5 CPUs keep two workers busy part of
 * the time, which beats one worker that leaves half a CPU unused), never more than the CPUs
 * the process may run on, at least 1.
 */
export function availableCpus(quota = cgroupCpuQuota(), parallelism = availableParallelism()): number {
  const byQuota = quota === undefined ? Infinity : Math.ceil(quota);
  return Math.max(1, Math.min(parallelism, byQuota));
}

function quotaOf(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  if (quota === 'max' || !Number.isFinite(q) || q <= 0 || !Number.isFinite(p) || p <= 0) return undefined;
  return q / p;
}

function tryRead(read: (path: string) => string, path: string): string | undefined {
  try {
    return read(path);
  } catch {
    return undefined;
  }
}
