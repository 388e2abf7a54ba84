import { randomUUID } from 'node:crypto';
import { entryId, livePendingId, pendingField, verificationIdOf } from './destination-hash.js';

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
    const entry = `1000:${entryId(id)}`;
    expect(livePendingId(entry, 999)).toBe(id);
    expect(livePendingId(entry, 1000)).toBeUndefined();
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
