import type { Test } from 'tap';
import { PixelFastPath } from '../../src/http/pixel-fast-path';

/** Records which requests the pixel fast path answered itself (the rest went on to Fastify). */
export function watchFastPath(t: Test): string[] {
  const answered: string[] = [];
  const original = PixelFastPath.prototype.answer;
  PixelFastPath.prototype.answer = function (this: PixelFastPath, req, res) {
    const took = original.call(this, req, res);
    if (took) answered.push(req.url!);
    return took;
  };
  t.teardown(() => {
    PixelFastPath.prototype.answer = original;
  });
  return answered;
}
