import { Sealer } from './sealer.js';

const ivOf = (sealed: string) => Buffer.from(sealed, 'base64url').subarray(0, 12).toString('hex');

describe('Sealer', () => {
  const sealer = new Sealer('a-secret-of-the-service-0123456789', 'test-purpose');

  it('opens what it sealed, bound to the same thing only', () => {
    const sealed = sealer.seal({ code: '123456' }, 'job-1');
    expect(sealer.open(sealed, 'job-1')).toEqual({ code: '123456' });
    expect(() => sealer.open(sealed, 'job-2')).toThrow();
    expect(() => new Sealer('a-secret-of-the-service-0123456789', 'another-purpose').open(sealed, 'job-1')).toThrow();
  });

  it('never uses an IV twice, across the refills of its pool', () => {
    // Over four pools' worth of seals: each opens, and no two share an IV.
    const sealed = Array.from({ length: 1100 }, (_, i) => sealer.seal({ n: i }, `job-${i}`));
    expect(new Set(sealed.map(ivOf)).size).toBe(sealed.length);
    sealed.forEach((value, i) => expect(sealer.open(value, `job-${i}`)).toEqual({ n: i }));
  });

  it('seals the same content differently every time', () => {
    expect(sealer.seal({ code: '123456' }, 'job-1')).not.toBe(sealer.seal({ code: '123456' }, 'job-1'));
  });
});
