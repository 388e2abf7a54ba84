import type { VerificationRecord } from '../otp.types.js';
import { fromHash, fromPairs, HASH_FIELDS, toHash } from './verification-hash.js';
import { VERIFICATION_SCRIPTS } from './verification.scripts.js';

const T0 = 1_700_000_000_000;

function record(overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  return {
    id: 'v-1',
    channel: 'sms',
    to: '+15005550006',
    purpose: 'login',
    budget: 'proven',
    locale: 'de',
    status: 'pending',
    digest: 'a'.repeat(64),
    createdAt: T0,
    updatedAt: T0 + 1,
    expiresAt: T0 + 600_000,
    attempts: 1,
    maxAttempts: 5,
    sends: 2,
    maxSends: 3,
    lastSentAt: T0 + 2,
    delivery: { status: 'sent', provider: 'twilio-sms', attempts: 2, lastError: 'timeout', updatedAt: T0 + 3 },
    codeIssuer: 'twilio-verify',
    ...overrides,
  };
}

/** Redis hands every value back as a string. */
const stored = (hash: Record<string, string | number>) =>
  Object.fromEntries(Object.entries(hash).map(([field, value]) => [field, String(value)]));

describe('the verification hash', () => {
  it('gives back every field of a record as it was written', () => {
    const full = record({ subject: 'account-1', deliveryPrivate: true });
    expect(fromHash(stored(toHash(full)))).toEqual(full);
  });

  it('writes null as an empty string and reads it back as null', () => {
    const bare = record({ codeIssuer: null, delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: T0 } });
    const hash = toHash(bare);
    expect(hash).toMatchObject({ codeIssuer: '', dProvider: '', dLastError: '' });
    expect(fromHash(stored(hash))).toEqual(bare);
  });

  it('leaves out the subject and the private flag when a record has none', () => {
    const hash = toHash(record());
    expect(hash).not.toHaveProperty('subject');
    expect(hash).not.toHaveProperty('deliveryPrivate');
    const read = fromHash(stored(hash));
    expect(read).not.toHaveProperty('subject');
    expect(read).not.toHaveProperty('deliveryPrivate');
  });

  it('reads a verification stored before budgets existed as the Verifications API one', () => {
    const { budget: _budget, ...legacy } = stored(toHash(record()));
    expect(fromHash(legacy).budget).toBe('api');
  });

  it('reads a settled verification without a digest as one with an empty digest', () => {
    const { digest: _digest, ...settled } = stored(toHash(record({ status: 'approved' })));
    expect(fromHash(settled).digest).toBe('');
  });

  it('reads the field, value pairs a script answers with', () => {
    const full = record({ subject: 'account-1' });
    expect(fromPairs(Object.entries(stored(toHash(full))).flat())).toEqual(full);
  });

  it('holds every field the Lua scripts read or write', () => {
    const named = new Set<string>();
    for (const { lua } of Object.values(VERIFICATION_SCRIPTS)) {
      for (const [, command, args] of lua.matchAll(/redis\.call\('(HSET|HMGET)', (?:key|KEYS\[1\]), ([^()]*(?:\([^()]*\)[^()]*)*)\)/g)) {
        const values = args!.split(/,\s*/);
        const fields = command === 'HMGET' ? values : values.filter((_, i) => i % 2 === 0);
        for (const field of fields) if (field.startsWith("'")) named.add(field.slice(1, -1));
      }
    }
    expect([...named].sort()).toEqual(expect.arrayContaining(['attempts', 'dStatus', 'deliveryPrivate', 'digest', 'lastSentAt', 'status']));
    for (const field of named) expect(HASH_FIELDS).toContain(field);
  });
});
