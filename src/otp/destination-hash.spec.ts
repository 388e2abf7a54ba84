import { randomUUID } from 'node:crypto';
import { entryId, livePendingId, msOf, pendingField, verificationIdOf } from './destination-hash.js';
import { mintVerificationId, verificationKey } from './verification-key.js';

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
  it('read in seconds, as they are written, or in milliseconds, as earlier versions wrote them', () => {
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
  it('holds a version-4 id (earlier versions minted them) as it is, and a version-8 id in base64url', () => {
    const id = randomUUID();
    expect(verificationKey(id)).toBe(`otp:{v:${id}}`);
    const next = `${id.slice(0, 14)}8${id.slice(15)}`;
    expect(verificationKey(next)).toBe(`otp:{${entryId(next)}}`);
    expect(verificationKey(next)).toHaveLength(28);
    expect(verificationIdOf(verificationKey(next).slice(5, -1))).toBe(next);
    // Anything else is kept as it is: an upper-case id names no key this version writes.
    expect(verificationKey(next.toUpperCase())).toBe(`otp:{v:${next.toUpperCase()}}`);
  });

  it('is the compact one for every id minted: random UUIDs of version 8, none alike', () => {
    const ids = Array.from({ length: 1_000 }, mintVerificationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(verificationKey(id)).toMatch(/^otp:\{[A-Za-z0-9_-]{22}\}$/);
    }
    // Every other hex digit is random: each takes more than one value across the ids.
    for (let at = 0; at < 36; at++) {
      if ([8, 13, 14, 18, 19, 23].includes(at)) continue;
      expect(new Set(ids.map((id) => id[at])).size).toBeGreaterThan(1);
    }
  });
});
