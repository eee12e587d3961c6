import t from 'tap';
import { readQuery } from '../../src/http/query';
import { GatewayError } from '../../src/errors';

// Query strings are read one way for the pixel fast path, the routes and form bodies.

function refusal(url: string): GatewayError {
  try {
    readQuery(url);
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error(`${url} was accepted`);
}

t.test('each parameter once, decoded', async (t) => {
  t.same({ ...readQuery('/p?a=1&b=h%C3%A9&c=&$id=x&$time=1') }, { a: '1', b: 'hé', c: '', $id: 'x', $time: '1' });
  t.same({ ...readQuery('/p') }, {});
  t.same({ ...readQuery('/p?') }, {});
  const poisoned = readQuery('/p?__proto__=1&constructor=2');
  t.equal(Object.getOwnPropertyDescriptor(poisoned, '__proto__')?.value, '1', '__proto__ is only a key: no Object.prototype behind it');
  t.equal(({} as Record<string, unknown>).constructor, Object, 'Object.prototype untouched');
});

t.test('a repeated parameter is refused, naming it and the count', async (t) => {
  const err = refusal('/p?position=1&position=2&position=3');
  t.equal(err.code, 'BAD_PARAMETER');
  t.match(err.message, /"position" is given 3 times/);
  t.equal(refusal('/p?placement[]=x&placement[]=y').code, 'BAD_PARAMETER');
});

t.test('percent-encoding that is not UTF-8 is refused, never replaced', async (t) => {
  for (const bad of ['%FF', '%C3', '%C3%28', '%E2%82', '%ED%A0%80' /* a UTF-8 encoded surrogate */]) {
    const err = refusal(`/p?a=${bad}`);
    t.equal(err.code, 'BAD_PARAMETER', bad);
    t.match(err.message, /not percent-encoded UTF-8/);
  }
  t.same({ ...readQuery('/p?a=%F0%9F%98%80%20%41') }, { a: '😀 A' }, 'a 4-byte character and ASCII escapes pass');
});

t.test('only the documented $ names', async (t) => {
  const err = refusal('/p?$idd=x');
  t.equal(err.code, 'BAD_PARAMETER');
  t.match(err.message, /"\$idd" is not one of the reserved names \$id, \$time, \$d, \$status/);
});

t.test('the message quotes at most 64 characters of a name', async (t) => {
  const name = `$${'x'.repeat(5000)}`;
  t.ok(refusal(`/p?${name}=1`).message.length < 200);
});
