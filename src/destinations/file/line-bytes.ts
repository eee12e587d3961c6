/**
 * Newline-terminated lines, written as UTF-8 straight into a Buffer as they come. Joining them
 * into one string first made a rope of every line's pieces that the UTF-8 copy had to flatten
 * into a second, flat string, then copy again (a loop of 5,000 CloudEvents lines: 1.9 µs a
 * line with the copy, 1.4–1.5 µs written straight).
 */
export class LineBytes {
  private readonly full: Buffer[] = [];
  private chunk: Buffer;
  private used = 0;

  /** @param expected the bytes of the lines if they are ASCII; text beyond it takes further chunks. */
  constructor(private readonly expected: number) {
    this.chunk = Buffer.allocUnsafe(expected);
  }

  add(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; only near the end of the chunk is the
    // line's exact length worth measuring.
    if (this.used + line.length * 3 + 1 > this.chunk.length) {
      const room = Buffer.byteLength(line) + 1;
      if (this.used + room > this.chunk.length) {
        this.full.push(this.chunk.subarray(0, this.used));
        this.chunk = Buffer.allocUnsafe(Math.max(this.expected, room));
        this.used = 0;
      }
    }
    this.used += this.chunk.write(line, this.used, 'utf8');
    this.chunk[this.used++] = 0x0a;
  }

  bytes(): Buffer {
    const last = this.chunk.subarray(0, this.used);
    return this.full.length === 0 ? last : Buffer.concat([...this.full, last]);
  }
}
