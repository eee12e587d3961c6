import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { gzipMember, wholeMembersLength } from '../../src/destinations/file/gzip-member';
import { removeDir, tempDir } from '../helpers/gateway';

// Minute files are runs of gzip members that state their own length; a torn tail is found by
// walking the headers and inflating only the last member.

const readerOf = (bytes: Buffer) => async (offset: number, length: number) => bytes.subarray(offset, offset + length);
const lines = (n: number, tag: string) => Buffer.from(Array.from({ length: n }, (_, i) => `{"id":"${tag}-${i}"}\n`).join(''));

t.test('members with the length field are plain gzip to gzip -t, zcat and zlib', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const file = Buffer.concat([await gzipMember(lines(3, 'a')), await gzipMember(lines(2, 'b')), await gzipMember(Buffer.alloc(0))]);
  const path = join(dir, 'x.ndjson.gz');
  writeFileSync(path, file);
  execFileSync('gzip', ['-t', path]);
  t.same(execFileSync('gzip', ['-dc', path]), Buffer.concat([lines(3, 'a'), lines(2, 'b')]));
  t.same(gunzipSync(file), Buffer.concat([lines(3, 'a'), lines(2, 'b')]));
  t.equal(await wholeMembersLength(readerOf(file), file.length), file.length, 'a whole file is whole');
});

t.test('every cut inside the last member, and garbage after the last, is found', async (t) => {
  const first = Buffer.concat([await gzipMember(lines(50, 'a')), await gzipMember(lines(50, 'b'))]);
  const last = await gzipMember(lines(50, 'c'));
  for (let cut = 1; cut < last.length; cut++) {
    const torn = Buffer.concat([first, last.subarray(0, cut)]);
    const kept = await wholeMembersLength(readerOf(torn), torn.length);
    if (kept !== first.length) return void t.fail(`cut after ${cut} bytes of ${last.length}: kept ${kept}`);
  }
  t.pass(`each of ${last.length - 1} cuts of the last member leaves the members before it`);
  for (const tail of [Buffer.alloc(4096), Buffer.from([0x1f, 0x8b]), Buffer.from('not gzip at all')]) {
    const file = Buffer.concat([first, last, tail]);
    t.equal(await wholeMembersLength(readerOf(file), file.length), first.length + last.length, `trailing ${tail.length} bytes cut`);
  }
});

t.test('a last member of the right length whose data is wrong (power loss wrote zeros) is cut', async (t) => {
  const first = await gzipMember(lines(10, 'a'));
  const last = await gzipMember(lines(10, 'b'));
  last.fill(0, 30, last.length - 8);
  const file = Buffer.concat([first, last]);
  t.equal(await wholeMembersLength(readerOf(file), file.length), first.length);
});

t.test('members written by other gzip writers are walked by inflating them', async (t) => {
  const foreign = Buffer.concat([gzipSync(lines(5, 'a')), gzipSync(lines(5, 'b'))]);
  const own = await gzipMember(lines(5, 'c'));
  const file = Buffer.concat([foreign, own]);
  t.equal(await wholeMembersLength(readerOf(file), file.length), file.length);
  const torn = Buffer.concat([foreign, gzipSync(lines(5, 'd')).subarray(0, 20)]);
  t.equal(await wholeMembersLength(readerOf(torn), torn.length), foreign.length, 'a torn foreign member is cut too');
});
