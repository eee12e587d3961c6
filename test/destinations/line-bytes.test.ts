import fc from 'fast-check';
import t from 'tap';
import { LineBytes } from '../../src/destinations/file/line-bytes';

// The bytes of a minute file's lines: each line's UTF-8 and a newline, in order, whatever the
// text (ASCII, as sized for, or not: 2-, 3- and 4-byte characters take further chunks).

t.test('the UTF-8 of the lines, each ended by a newline, for any text', async (t) => {
  const line = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 }), fc.constantFrom('', 'é', '😀'.repeat(50), '\u2028'));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 60 }), (lines) => {
      const bytes = new LineBytes(lines.reduce((n, l) => n + l.length + 1, 0));
      for (const l of lines) bytes.add(l);
      return bytes.bytes().equals(Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8'));
    }),
    { numRuns: 2000 },
  );
  t.pass('2,000 random sets of lines');
});

t.test('lines of more than the expected size (not ASCII, or a wrong guess) still all land', async (t) => {
  const bytes = new LineBytes(4);
  const lines = ['abc', 'ü'.repeat(1000), '', 'x'.repeat(5000), '😀'];
  for (const l of lines) bytes.add(l);
  t.same(bytes.bytes().toString('utf8').split('\n'), [...lines, '']);
});
