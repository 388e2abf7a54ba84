import { randomUUID } from 'node:crypto';
import { entryId, livePendingId, msOf, pendingField, verificationIdOf } from './destination-hash.js';
import { verificationKey } from './verification-key.js';

describe("a destination hash's pending entries", () => {
  it('hold a UUID in 22 characters and give it back as it was', () => {
    for (let i = 0; i < 50; i++) {
      const id = randomUUID();
      expect(entryId(id)).toHaveLength(22);
      expect(verificationIdOf(entryId(id))).toBe(id);
    }
  });

  it('hold any other id as it is', () => {
    for (const id of ['not-a-uuid', 'A1B2C3D4-0000-4000-8000-000000000000', 'x'.repeat(40)]) {
      expect(entryId(id)).toBe(id);
      expect(verificationIdOf(entryId(id))).toBe(id);
    }
  });

  it('name their verification only until its code expires', () => {
    const id = randomUUID();
    const expiresAt = Date.UTC(2026, 11, 3);
    const entry = `${expiresAt}:${entryId(id)}`;
    expect(livePendingId(entry, expiresAt - 1)).toBe(id);
    expect(livePendingId(entry, expiresAt)).toBeUndefined();
    expect(livePendingId(null, 0)).toBeUndefined();
    expect(livePendingId('garbage', 0)).toBeUndefined();
  });

  it('are fields apart from the limits, per budget, purpose and subject', () => {
    expect(pendingField('verify', 'api')).toBe('a:verify');
    expect(pendingField('signup', 'anonymous', 's1')).toBe('n:signup:s:s1');
    expect(pendingField('login', 'proven')).toBe('p:login');
    const account = randomUUID();
    expect(pendingField('password_reset', 'anonymous', account)).toBe(`n:password_reset:s:${entryId(account)}`);
  });
});

describe("a destination hash's times", () => {
  it('read in milliseconds, or in seconds as the next version writes them', () => {
    const now = Date.UTC(2026, 11, 3);
    expect(msOf(now)).toBe(now);
    expect(msOf(now / 1000)).toBe(now);
    expect(msOf(Date.UTC(2999, 0, 1) / 1000)).toBe(Date.UTC(2999, 0, 1));
    expect(msOf(Date.UTC(1974, 0, 1))).toBe(Date.UTC(1974, 0, 1));
    const id = randomUUID();
    expect(livePendingId(`${Math.ceil((now + 1) / 1000)}:${entryId(id)}`, now)).toBe(id);
    expect(livePendingId(`${now / 1000}:${entryId(id)}`, now)).toBeUndefined();
  });
});

describe("a verification's key", () => {
  it('holds a version-4 id as it is, and a version-8 id (the next version mints them) in base64url', () => {
    const id = randomUUID();
    expect(verificationKey(id)).toBe(`otp:{v:${id}}`);
    const next = `${id.slice(0, 14)}8${id.slice(15)}`;
    expect(verificationKey(next)).toBe(`otp:{${entryId(next)}}`);
    expect(verificationKey(next)).toHaveLength(28);
    expect(verificationIdOf(verificationKey(next).slice(5, -1))).toBe(next);
    // Anything else is kept as it is: an upper-case id names no key this version or the next writes.
    expect(verificationKey(next.toUpperCase())).toBe(`otp:{v:${next.toUpperCase()}}`);
  });
});
