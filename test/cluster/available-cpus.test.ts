import t from 'tap';
import { availableCpus, cgroupCpuQuota } from '../../src/cluster/available-cpus';

// The default number of workers: the CPUs the container may use, its cgroup quota included.

const files = (contents: Record<string, string>) => (path: string) => {
  if (path in contents) return contents[path];
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
};

t.test('the cgroup quota, v2 then v1', async (t) => {
  t.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 1.5, 'v2: quota / period');
  t.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), undefined, 'v2: no limit');
  t.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), 2, 'v1');
  t.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), undefined, 'v1: no limit');
  t.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'garbage' })), undefined, 'unreadable: no limit');
  t.equal(cgroupCpuQuota(files({})), undefined, 'no cgroup files');
});

t.test('workers: the quota rounded up, within the CPUs the process may run on, at least one', async (t) => {
  t.equal(availableCpus(undefined, 8), 8, 'no quota: every CPU');
  t.equal(availableCpus(2, 32), 2, 'limits.cpu 2 on a 32-core node');
  t.equal(availableCpus(1.5, 8), 2, '1.5 CPUs: two workers');
  t.equal(availableCpus(0.25, 8), 1, 'a quarter CPU: one');
  t.equal(availableCpus(16, 4), 4, 'a quota above the cpuset');
  t.ok(availableCpus() >= 1, 'on this machine');
});
