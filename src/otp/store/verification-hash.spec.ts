import { legacyHash } from '../../../test/support/legacy-verification-hash.js';
import { oldestLayoutHash, olderLayoutHash, previousLayoutHash } from '../../../test/support/previous-verification-hash.js';
import type { VerificationRecord } from '../otp.types.js';
import { SENT_MARK_PREFIX } from '../delivery.port.js';
import {
  DELIVERY_FIELD,
  FIELD,
  fromHash,
  fromPairs,
  HASH_FIELDS,
  PACKED_CODES,
  packDigest,
  packedCode,
  SHORT_CODES,
  statusOf,
  toHash,
  unpackCodes,
} from './verification-hash.js';
import { VERIFICATION_SCRIPTS } from './verification.scripts.js';

const T0 = 1_700_000_000_000;
const DIGEST = '0f'.repeat(8) + 'a1'.repeat(8);

function record(overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  return {
    id: 'v-1',
    channel: 'sms',
    to: '+15005550006',
    purpose: 'login',
    budget: 'proven',
    locale: 'de',
    status: 'pending',
    digest: DIGEST,
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

/** Redis hands every value back as bytes (the store asks for them so: the digest is stored as its bytes). */
const stored = (hash: Record<string, string | number | Buffer>) =>
  Object.fromEntries(Object.entries(hash).map(([field, value]) => [field, Buffer.isBuffer(value) ? value : Buffer.from(String(value))]));

describe('the verification hash', () => {
  it('gives back every field of a record as it was written', () => {
    const full = record({
      subject: 'account-1',
      deliveryPrivate: true,
      delivery: {
        status: 'delivered',
        provider: 'twilio-sms',
        attempts: 1,
        lastError: null,
        updatedAt: T0 + 5,
        messageId: 'SM123',
        errorCode: '30003',
        deliveredAt: T0 + 4,
      },
    });
    expect(fromHash(full.id, stored(toHash(full)))).toEqual(full);
  });

  it('stores no id, the digest as its 16 bytes, and every time but the creation as milliseconds since it', () => {
    const hash = toHash(record());
    expect(Object.values(hash)).not.toContain('v-1');
    expect(hash[FIELD.digest]).toEqual(Buffer.from(DIGEST, 'hex'));
    expect((hash[FIELD.digest] as Buffer).length).toBe(16);
    expect(hash).toMatchObject({
      [FIELD.createdAt]: T0,
      [FIELD.updatedAt]: 1,
      [FIELD.expiresAt]: 600_000,
      [FIELD.lastSentAt]: 2,
      [DELIVERY_FIELD.updatedAt]: 3,
    });
    for (const field of HASH_FIELDS) expect(field.length).toBeLessThanOrEqual(2);
  });

  it("leaves the delivery ledger's field names to it, and reads a hash that holds its marks the same", () => {
    for (const field of HASH_FIELDS) expect(field.startsWith(SENT_MARK_PREFIX)).toBe(false);
    const r = record();
    expect(fromHash(r.id, stored({ ...toHash(r), [`${SENT_MARK_PREFIX}1`]: 1, [`${SENT_MARK_PREFIX}1:after:smtp`]: 1 }))).toEqual(r);
  });

  it('leaves out a null and reads a missing field or an empty string back as null', () => {
    const bare = record({ codeIssuer: null, delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: T0 } });
    const hash = toHash(bare);
    for (const field of [FIELD.codeIssuer, DELIVERY_FIELD.provider, DELIVERY_FIELD.lastError]) expect(hash).not.toHaveProperty(field);
    expect(fromHash(bare.id, stored(hash))).toEqual(bare);
    const empty = { ...hash, [FIELD.codeIssuer]: '', [DELIVERY_FIELD.provider]: '', [DELIVERY_FIELD.lastError]: '' };
    expect(fromHash(bare.id, stored(empty))).toEqual(bare);
  });

  it('leaves out the subject and the private flag when a record has none', () => {
    const hash = toHash(record());
    expect(hash).not.toHaveProperty(FIELD.subject);
    expect(hash).not.toHaveProperty(FIELD.deliveryPrivate);
    const read = fromHash('v-1', stored(hash))!;
    expect(read).not.toHaveProperty('subject');
    expect(read).not.toHaveProperty('deliveryPrivate');
  });

  it('keeps an empty digest empty', () => {
    const settled = record({ status: 'approved', digest: '' });
    expect(toHash(settled)[FIELD.digest]).toBe('');
    expect(fromHash(settled.id, stored(toHash(settled)))!.digest).toBe('');
  });

  it('reads no verification from an empty hash', () => {
    expect(fromHash('v-1', {})).toBeUndefined();
    expect(fromPairs('v-1', [])).toBeUndefined();
  });

  it('reads the field, value pairs a script answers with', () => {
    const full = record({ subject: 'account-1' });
    expect(
      fromPairs(
        full.id,
        Object.entries(stored(toHash(full))).flatMap(([field, value]) => [Buffer.from(field), value]),
      ),
    ).toEqual(full);
  });

  it('reads field names of any length from the pairs, the longer names of the earlier layout too', () => {
    const full = record({ subject: 'account-1' });
    const pairs = (hash: Record<string, Buffer>) => Object.entries(hash).flatMap(([field, value]) => [Buffer.from(field, 'latin1'), value]);
    expect(fromPairs(full.id, pairs(stored(legacyHash(full))))).toEqual(full);
    expect(fromPairs(full.id, pairs(stored(previousLayoutHash(full))))).toEqual(full);
  });

  it('reads a number as Number reads its text, whether or not it is plain digits', () => {
    const base = stored(toHash(record()));
    const read = (field: string, text: string) => fromHash('v-1', { ...base, [field]: Buffer.from(text) })!;
    expect(read(FIELD.attempts, '0007').attempts).toBe(7);
    expect(read(FIELD.attempts, '').attempts).toBe(0);
    expect(read(FIELD.maxAttempts, '1e3').maxAttempts).toBe(1000);
    expect(read(FIELD.sends, ' 2 ').sends).toBe(2);
    expect(read(FIELD.sends, 'x').sends).toBeNaN();
    // A time before the creation (a replica's clock behind another's) is written with a sign.
    expect(read(FIELD.updatedAt, '-250').updatedAt).toBe(T0 - 250);
    expect(read(FIELD.createdAt, String(T0)).createdAt).toBe(T0);
    // Past 15 digits the sum could round differently from Number's reading: read by Number itself.
    expect(read(FIELD.expiresAt, '1234567890123456789').expiresAt).toBe(T0 + Number('1234567890123456789'));
    expect(read(DELIVERY_FIELD.deliveredAt, '42').delivery.deliveredAt).toBe(T0 + 42);
  });

  it('takes only lower-case hex for a digest: anything else is an empty candidate, which never matches', () => {
    expect(packDigest(DIGEST)).toEqual(Buffer.from(DIGEST, 'hex'));
    for (const other of ['', DIGEST.toUpperCase(), DIGEST.slice(1), `${DIGEST.slice(0, 62)}zz`, 'not a digest']) {
      expect(packDigest(other)).toHaveLength(0);
    }
  });

  describe('written before the compact layout', () => {
    it('reads back every field', () => {
      const full = record({
        subject: 'account-1',
        deliveryPrivate: true,
        delivery: { ...record().delivery, messageId: 'SM123', errorCode: '30003', deliveredAt: T0 + 4 },
      });
      expect(fromHash(full.id, stored(legacyHash(full)))).toEqual(full);
      const bare = record({
        codeIssuer: null,
        delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: T0 },
      });
      expect(fromHash(bare.id, stored(legacyHash(bare)))).toEqual(bare);
    });

    it('reads a verification stored before budgets existed as the Verifications API one', () => {
      const { budget: _budget, ...older } = legacyHash(record());
      expect(fromHash('v-1', stored(older))!.budget).toBe('api');
    });

    it('reads a settled verification without a digest as one with an empty digest', () => {
      const { digest: _digest, ...settled } = legacyHash(record({ status: 'approved' }));
      expect(fromHash('v-1', stored(settled))!.digest).toBe('');
    });

    it('used names none of which this layout uses, so a rewrite can delete them all', () => {
      const legacy = Object.keys(
        legacyHash(record({ subject: 's', deliveryPrivate: true, delivery: { ...record().delivery, deliveredAt: T0 } })),
      );
      for (const field of HASH_FIELDS) expect(legacy).not.toContain(field);
    });
  });

  describe('in codes, without zeros', () => {
    const FRESH = record({
      updatedAt: T0,
      attempts: 0,
      sends: 0,
      maxSends: 0,
      lastSentAt: T0,
      codeIssuer: null,
      delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: T0 },
    });

    it('writes the channel, the budget and both statuses as their codes, and no field for a counter or time of 0', () => {
      // Together in one field (below): sms, proven, pending, sent; twilio-sms has no code.
      expect(toHash(record())).toMatchObject({ [PACKED_CODES.field]: 'spps-' });
      expect(previousLayoutHash(record())).toMatchObject({
        [FIELD.channel]: 's',
        [FIELD.budget]: 'p',
        [FIELD.status]: 'p',
        [DELIVERY_FIELD.status]: 's',
      });
      const hash = toHash(FRESH);
      const zeroes = [
        FIELD.updatedAt,
        FIELD.attempts,
        FIELD.sends,
        FIELD.maxSends,
        FIELD.lastSentAt,
        DELIVERY_FIELD.attempts,
        DELIVERY_FIELD.updatedAt,
      ];
      for (const field of zeroes) expect(hash).not.toHaveProperty(field);
      // What is never 0, or means something at 0, stays.
      expect(hash).toMatchObject({ [FIELD.createdAt]: T0, [FIELD.expiresAt]: 600_000, [FIELD.maxAttempts]: 5 });
      expect(toHash(record({ delivery: { ...record().delivery, deliveredAt: T0 } }))).toHaveProperty(DELIVERY_FIELD.deliveredAt, 0);
      expect(fromHash(FRESH.id, stored(hash))).toEqual(FRESH);
    });

    it('reads back what the version before the previous one wrote: values in full, zeros written out, a 32-byte digest', () => {
      const long = 'c3'.repeat(32);
      const full = record({
        digest: long,
        subject: 'account-1',
        deliveryPrivate: true,
        delivery: { ...record().delivery, messageId: 'SM123', errorCode: '30003', deliveredAt: T0 },
      });
      const older = oldestLayoutHash(full);
      expect(older).toMatchObject({ [FIELD.status]: 'pending', [FIELD.channel]: 'sms', [DELIVERY_FIELD.status]: 'sent' });
      expect(fromHash(full.id, stored(older))).toEqual(full);
      const fresh = { ...FRESH, digest: long };
      expect(oldestLayoutHash(fresh)).toMatchObject({ [FIELD.attempts]: 0, [FIELD.updatedAt]: 0, [DELIVERY_FIELD.attempts]: 0 });
      expect(fromHash(fresh.id, stored(oldestLayoutHash(fresh)))).toEqual(fresh);
    });

    it('has one distinct letter per value, and no value a letter long, so a value written in full reads as itself', () => {
      for (const codes of Object.values(SHORT_CODES)) {
        const letters = Object.values(codes) as string[];
        expect(new Set(letters).size).toBe(letters.length);
        for (const letter of letters) expect(letter).toMatch(/^[a-z]$/);
        for (const value of Object.keys(codes)) expect(value.length).toBeGreaterThan(1);
      }
      for (const [status, code] of Object.entries(SHORT_CODES.status)) {
        expect(statusOf(code)).toBe(status);
        expect(statusOf(status)).toBe(status);
      }
      expect(statusOf(null)).toBeUndefined();
    });

    it('holds the statuses the scripts decide on, decoded and written by the scripts with the same table', () => {
      const lua = VERIFICATION_SCRIPTS.otpCheck.lua;
      for (const [status, code] of Object.entries(SHORT_CODES.status)) expect(lua).toContain(`${code} = '${status}'`);
      for (const [status, code] of Object.entries(SHORT_CODES.deliveryStatus)) {
        expect(lua).toContain(`${code} = '${status}'`);
        expect(lua).toContain(`${status} = '${code}'`);
      }
      // No script writes a status in full.
      for (const { lua: script } of Object.values(VERIFICATION_SCRIPTS)) {
        for (const status of Object.keys(SHORT_CODES.status)) expect(script).not.toMatch(new RegExp(`'HSET'[^\\n]*'${status}'`));
      }
    });
  });

  describe('the locale and the provider', () => {
    it('writes no locale for the default one and the provider as its code, and reads both back', () => {
      const english = record({ locale: 'en', delivery: { ...record().delivery, provider: 'smtp' } });
      const hash = toHash(english);
      expect(hash).not.toHaveProperty(FIELD.locale);
      expect(hash).not.toHaveProperty(DELIVERY_FIELD.provider);
      expect(packedCode(hash[PACKED_CODES.field] as string, DELIVERY_FIELD.provider)).toBe('m');
      expect(fromHash(english.id, stored(hash))).toEqual(english);
      // Another locale is written as it is; a provider without a code, in full, and reads as itself.
      const german = record({ delivery: { ...record().delivery, provider: 'twilio-sms' } });
      expect(toHash(german)).toMatchObject({ [FIELD.locale]: 'de', [DELIVERY_FIELD.provider]: 'twilio-sms' });
      expect(fromHash(german.id, stored(toHash(german)))).toEqual(german);
      // No provider yet: no field.
      const queued = record({ delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: T0 } });
      expect(toHash(queued)).not.toHaveProperty(DELIVERY_FIELD.provider);
      expect(fromHash(queued.id, stored(toHash(queued)))!.delivery.provider).toBeNull();
    });

    it('writes every provider as its code and reads it back, and reads it in full as the previous version wrote it', () => {
      for (const [provider, code] of Object.entries(SHORT_CODES.provider)) {
        const sent = record({ locale: 'en', delivery: { ...record().delivery, provider } });
        expect(packedCode(toHash(sent)[PACKED_CODES.field] as string, DELIVERY_FIELD.provider)).toBe(code);
        expect(previousLayoutHash(sent)).toHaveProperty(DELIVERY_FIELD.provider, code);
        expect(fromHash(sent.id, stored(previousLayoutHash(sent)))).toEqual(sent);
        expect(fromHash(sent.id, stored(toHash(sent)))!.delivery.provider).toBe(provider);
        const previous = olderLayoutHash(sent);
        expect(previous).toMatchObject({ [FIELD.locale]: 'en', [DELIVERY_FIELD.provider]: provider });
        expect(fromHash(sent.id, stored(previous))).toEqual(sent);
      }
    });
  });

  describe('the codes held together in one field, as this version writes them', () => {
    const PACKED_TABLES = ['channel', 'budget', 'status', 'deliveryStatus', 'provider'] as const;

    it('reads back every channel, budget, status, delivery status and provider from the one field, and nothing else changes', () => {
      // Each with a provider that has a code (the default record's has none).
      const coded = (overrides: Partial<VerificationRecord>) => {
        const base = record({ delivery: { ...record().delivery, provider: 'twilio' } });
        return { ...base, ...overrides, delivery: { ...base.delivery, ...overrides.delivery } };
      };
      const variants: VerificationRecord[] = [
        ...Object.keys(SHORT_CODES.channel).map((channel) => coded({ channel: channel as VerificationRecord['channel'] })),
        ...Object.keys(SHORT_CODES.budget).map((budget) => coded({ budget: budget as VerificationRecord['budget'] })),
        ...Object.keys(SHORT_CODES.status).map((status) => coded({ status: status as VerificationRecord['status'] })),
        ...Object.keys(SHORT_CODES.deliveryStatus).map((status) =>
          coded({ delivery: { ...record().delivery, provider: 'twilio', status: status as VerificationRecord['delivery']['status'] } }),
        ),
        ...Object.keys(SHORT_CODES.provider).map((provider) => coded({ delivery: { ...record().delivery, provider } })),
      ];
      for (const variant of variants) {
        const hash = toHash(variant);
        expect(hash[PACKED_CODES.field]).toMatch(/^[a-z]{5}$/);
        for (const field of PACKED_CODES.order) expect(hash).not.toHaveProperty(field);
        expect(fromHash(variant.id, stored(hash))).toEqual(variant);
        // As the previous version wrote it, each code in its own field: read the same.
        const previous = previousLayoutHash(variant);
        expect(previous).not.toHaveProperty(PACKED_CODES.field);
        expect(fromHash(variant.id, stored(previous))).toEqual(variant);
      }
    });

    it('reads a code held in its own field beside them, and no provider where there is none', () => {
      // twilio-sms has no code: it is written in full, in its own field.
      const uncoded = record({ delivery: { ...record().delivery, provider: 'twilio-sms' } });
      expect(toHash(uncoded)).toMatchObject({ [PACKED_CODES.field]: 'spps-', [DELIVERY_FIELD.provider]: 'twilio-sms' });
      expect(fromHash(uncoded.id, stored(toHash(uncoded)))).toEqual(uncoded);
      const queued = record({ delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: T0 } });
      expect(toHash(queued)[PACKED_CODES.field]).toBe('sppq-');
      expect(fromHash(queued.id, stored(toHash(queued)))!.delivery.provider).toBeNull();
    });

    it("holds no time for a delivery that last changed when the verification did, and reads it as the verification's", () => {
      const reported = record({ updatedAt: T0 + 150_000, delivery: { ...record().delivery, provider: 'smtp', updatedAt: T0 + 150_000 } });
      const hash = toHash(reported);
      expect(hash).toMatchObject({ [PACKED_CODES.field]: 'spps' + 'm=', [FIELD.updatedAt]: 150_000 });
      expect(hash).not.toHaveProperty(DELIVERY_FIELD.updatedAt);
      expect(fromHash(reported.id, stored(hash))).toEqual(reported);
      expect(previousLayoutHash(reported)).toMatchObject({ [FIELD.updatedAt]: 150_000, [DELIVERY_FIELD.updatedAt]: 150_000 });
      // A change of the verification alone (a wrong code) leaves the delivery's time its own.
      const checked = { ...reported, updatedAt: T0 + 200_000 };
      expect(toHash(checked)).toMatchObject({ [PACKED_CODES.field]: 'sppsm', [DELIVERY_FIELD.updatedAt]: 150_000 });
      expect(fromHash(checked.id, stored(toHash(checked)))).toEqual(checked);
    });

    it('gives each code its field, as the scripts do in Redis, and finds one code in the field', () => {
      expect(unpackCodes(stored({ [PACKED_CODES.field]: 'eamd-', [FIELD.createdAt]: T0 }))).toEqual(
        stored({ [FIELD.channel]: 'e', [FIELD.budget]: 'a', [FIELD.status]: 'm', [DELIVERY_FIELD.status]: 'd', [FIELD.createdAt]: T0 }),
      );
      expect(unpackCodes(stored({ [PACKED_CODES.field]: 'eamdg=', [FIELD.updatedAt]: 7 }))).toEqual(
        stored({
          [FIELD.channel]: 'e',
          [FIELD.budget]: 'a',
          [FIELD.status]: 'm',
          [DELIVERY_FIELD.status]: 'd',
          [DELIVERY_FIELD.provider]: 'g',
          [FIELD.updatedAt]: 7,
          [DELIVERY_FIELD.updatedAt]: 7,
        }),
      );
      expect(packedCode('eamdg', FIELD.status)).toBe('m');
      expect(packedCode(Buffer.from('eamdg'), DELIVERY_FIELD.provider)).toBe('g');
      expect(packedCode('eamd-', DELIVERY_FIELD.provider)).toBeUndefined();
      expect(packedCode('ea', FIELD.status)).toBeUndefined();
      expect(packedCode(null, FIELD.status)).toBeUndefined();
    });

    it('packs only tables whose codes are one character, none of them the mark of a code held elsewhere', () => {
      for (const table of PACKED_TABLES) {
        for (const code of Object.values(SHORT_CODES[table])) {
          expect(code).toHaveLength(1);
          expect(code).not.toBe(PACKED_CODES.none);
        }
      }
      expect(PACKED_CODES.order).toEqual([FIELD.channel, FIELD.budget, FIELD.status, DELIVERY_FIELD.status, DELIVERY_FIELD.provider]);
    });
  });

  it('holds every field the Lua scripts read or write', () => {
    const named = new Set<string>();
    for (const { lua } of Object.values(VERIFICATION_SCRIPTS)) {
      const calls = /(?:redis\.call\('(HSET|HMGET|HDEL)', |(hmget|hset|hdel|put)\()(?:key|KEYS\[1\]), ([^()]*(?:\([^()]*\)[^()]*)*)\)/g;
      for (const [, command, helper, args] of lua.matchAll(calls)) {
        const values = args!.split(/,\s*/);
        const pairs = command === 'HSET' || helper === 'hset';
        const fields = pairs ? values.filter((_, i) => i % 2 === 0) : helper === 'put' ? values.slice(0, 1) : values;
        for (const field of fields) if (field.startsWith("'")) named.add(field.slice(1, -1));
      }
    }
    const expected = [FIELD.attempts, DELIVERY_FIELD.status, FIELD.deliveryPrivate, FIELD.digest, FIELD.lastSentAt, FIELD.status];
    expect([...named].sort()).toEqual(expect.arrayContaining([...expected, FIELD.codeIssuer, DELIVERY_FIELD.messageId]));
    for (const field of named) expect(HASH_FIELDS).toContain(field);
  });
});
