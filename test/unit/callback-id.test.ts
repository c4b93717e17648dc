import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { uuidV7 } from '../../src/domain/callback-id';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('callback ids (UUID version 7)', () => {
  it('has the UUID version 7 shape, with the creation time in its first 48 bits', () => {
    const ms = Date.UTC(2030, 0, 7, 9, 0, 0, 123);
    const id = uuidV7(ms, randomBytes(10));
    assert.match(id, UUID_V7);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms);
  });

  it('sorts later ids after earlier ones, as text', () => {
    const ids = [0, 1, 999, 60_000, 86_400_000].map((d) =>
      uuidV7(Date.UTC(2030, 0, 1) + d, randomBytes(10)),
    );
    assert.deepEqual([...ids].sort(), ids);
  });

  it('differs between two ids of the same millisecond', () => {
    const ms = Date.UTC(2030, 0, 1);
    const seen = new Set(Array.from({ length: 1000 }, () => uuidV7(ms, randomBytes(10))));
    assert.equal(seen.size, 1000);
  });

  it('takes its random bits from the bytes given', () => {
    const a = uuidV7(0, new Uint8Array(10));
    const b = uuidV7(0, new Uint8Array(10).fill(0xff));
    assert.equal(a, '00000000-0000-7000-8000-000000000000');
    assert.equal(b, '00000000-0000-7fff-bfff-ffffffffffff');
  });
});
