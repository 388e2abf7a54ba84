import { BUDGETS_OF, type VerificationRecord } from '../otp.types.js';
import { cancel, check, checkScoped, isPending, markDeliveryPrivate, reportDelivery, resend } from './verification-transitions.js';

const T0 = 1_700_000_000_000;
const LATER = T0 + 1_000;
const RIGHT = 'a'.repeat(64);
const WRONG = 'b'.repeat(64);
/** The code's digests: as earlier versions stored it, and (a stand-in of the right length) as this version stores it. */
const candidate = (digest: string) => ({ digest, short: digest.slice(0, 32).replaceAll('a', 'c').replaceAll('b', 'd') });

function pending(overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  return {
    id: 'v-1',
    channel: 'email',
    to: 'someone@example.com',
    purpose: 'verify',
    budget: 'api',
    locale: 'en',
    status: 'pending',
    digest: RIGHT,
    createdAt: T0,
    updatedAt: T0,
    expiresAt: T0 + 600_000,
    attempts: 0,
    maxAttempts: 3,
    sends: 1,
    maxSends: 3,
    lastSentAt: T0,
    delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: T0 },
    codeIssuer: null,
    ...overrides,
  };
}

describe('isPending', () => {
  it('holds for a pending verification until the instant its code expires', () => {
    const record = pending();
    expect(isPending(record, record.expiresAt - 1)).toBe(true);
    expect(isPending(record, record.expiresAt)).toBe(false);
  });

  it('does not hold for a settled verification', () => {
    expect(isPending(pending({ status: 'canceled' }), LATER)).toBe(false);
  });
});

describe('check', () => {
  it("compares a digest of the short digest's length with the candidate's short digest, and never with the other", () => {
    const short = pending({ digest: candidate(RIGHT).short });
    expect(check(short, candidate(WRONG), LATER).outcome.result).toBe('incorrect');
    expect(check(short, { digest: candidate(RIGHT).short, short: candidate(WRONG).short }, LATER).outcome.result).toBe('incorrect');
    expect(check(short, candidate(RIGHT), LATER).outcome.result).toBe('approved');
    expect(check(pending(), { digest: candidate(WRONG).digest, short: candidate(RIGHT).short }, LATER).outcome.result).toBe('incorrect');
  });

  it('approves the right digest, forgets it and settles the verification', () => {
    const record = pending();
    const { outcome, next, settled } = check(record, candidate(RIGHT), LATER);
    expect(next).toEqual({ ...record, status: 'approved', digest: '', updatedAt: LATER });
    expect(outcome).toEqual({ result: 'approved', record: next });
    expect(settled).toBe(true);
  });

  it('counts a wrong digest and stays pending below the limit', () => {
    const { outcome, next, settled } = check(pending({ attempts: 1 }), candidate(WRONG), LATER);
    expect(next).toMatchObject({ status: 'pending', attempts: 2, digest: RIGHT, updatedAt: LATER });
    expect(outcome).toEqual({ result: 'incorrect', record: next });
    expect(settled).toBeUndefined();
  });

  it('locks on the wrong digest that reaches the limit, still answering incorrect', () => {
    const { outcome, next, settled } = check(pending({ attempts: 2 }), candidate(WRONG), LATER);
    expect(next).toMatchObject({ status: 'max_attempts', attempts: 3, digest: '', updatedAt: LATER });
    expect(outcome).toEqual({ result: 'incorrect', record: next });
    expect(settled).toBe(true);
  });

  it('locks without comparing once the attempts are used up, even for the right digest', () => {
    const { outcome, next, settled } = check(pending({ attempts: 3 }), candidate(RIGHT), LATER);
    expect(next).toMatchObject({ status: 'max_attempts', attempts: 3, digest: '', updatedAt: LATER });
    expect(outcome).toEqual({ result: 'locked', record: next });
    expect(settled).toBe(true);
  });

  it('answers locked for a locked verification and changes nothing', () => {
    const record = pending({ status: 'max_attempts', attempts: 3, digest: '' });
    expect(check(record, candidate(RIGHT), LATER)).toEqual({ outcome: { result: 'locked', record } });
  });

  it('finds nothing to check when there is no record, it expired or it settled otherwise', () => {
    const record = pending();
    expect(check(undefined, candidate(RIGHT), LATER)).toEqual({ outcome: { result: 'not_found' } });
    expect(check(record, candidate(RIGHT), record.expiresAt)).toEqual({ outcome: { result: 'not_found' } });
    for (const status of ['approved', 'canceled', 'failed'] as const) {
      expect(check(pending({ status, digest: '' }), candidate(RIGHT), LATER)).toEqual({ outcome: { result: 'not_found' } });
    }
  });

  it('never matches an empty digest, so a provider-issued code is only approved by its provider', () => {
    const record = pending({ digest: '', codeIssuer: 'twilio-verify' });
    expect(check(record, candidate(''), LATER).outcome.result).toBe('incorrect');
    expect(check(record, { approved: false }, LATER).outcome.result).toBe('incorrect');
    expect(check(record, { approved: true }, LATER).outcome.result).toBe('approved');
  });

  it('leaves the record it was given as it was', () => {
    const record = pending();
    const before = structuredClone(record);
    check(record, candidate(WRONG), LATER);
    check(record, candidate(RIGHT), LATER);
    expect(record).toEqual(before);
  });
});

describe('checkScoped', () => {
  const SHORT_RIGHT = candidate(RIGHT).short;
  const SHORT_WRONG = candidate(WRONG).short;
  const API = { budgets: BUDGETS_OF.api, purpose: 'verify' };
  const short = (overrides: Partial<VerificationRecord> = {}) => pending({ digest: SHORT_RIGHT, ...overrides });

  it('is check on a short digest within its scope', () => {
    expect(checkScoped(short(), API, SHORT_RIGHT, LATER)).toEqual(check(short(), candidate(RIGHT), LATER));
    expect(checkScoped(short({ attempts: 2 }), API, SHORT_WRONG, LATER)).toEqual(check(short({ attempts: 2 }), candidate(WRONG), LATER));
    const locked = short({ status: 'max_attempts', attempts: 3, digest: '' });
    expect(checkScoped(locked, API, SHORT_RIGHT, LATER)).toEqual({ outcome: { result: 'locked', record: locked } });
    expect(checkScoped(short(), { budgets: BUDGETS_OF.api }, SHORT_RIGHT, LATER).outcome.result).toBe('approved');
  });

  it('finds nothing outside its scope, and tells nothing of it', () => {
    expect(checkScoped(undefined, API, SHORT_RIGHT, LATER)).toEqual({ outcome: { result: 'not_found' } });
    expect(checkScoped(short(), { budgets: BUDGETS_OF.auth }, SHORT_RIGHT, LATER)).toEqual({ outcome: { result: 'not_found' } });
    expect(checkScoped(short(), { ...API, purpose: 'login' }, SHORT_RIGHT, LATER)).toEqual({ outcome: { result: 'not_found' } });
    expect(checkScoped(short({ budget: 'proven' }), API, SHORT_RIGHT, LATER)).toEqual({ outcome: { result: 'not_found' } });
  });

  it('answers one no longer pending not found, with its record', () => {
    const approved = short({ status: 'approved', digest: '' });
    expect(checkScoped(approved, API, SHORT_RIGHT, LATER)).toEqual({ outcome: { result: 'not_found', record: approved } });
    const record = short();
    expect(checkScoped(record, API, SHORT_RIGHT, record.expiresAt)).toEqual({ outcome: { result: 'not_found', record } });
  });

  it('defers a code its provider checks and a digest bound to the purpose, and changes nothing', () => {
    expect(checkScoped(pending(), API, SHORT_RIGHT, LATER)).toEqual({ outcome: { result: 'deferred' } });
    expect(checkScoped(short({ digest: '', codeIssuer: 'twilio-verify' }), API, SHORT_RIGHT, LATER)).toEqual({
      outcome: { result: 'deferred' },
    });
  });
});

describe('resend', () => {
  const code = { digest: 'c'.repeat(64), expiresAt: LATER + 600_000, now: LATER };

  it('replaces the digest and expiry, counts the send, keeps failed attempts and starts a new delivery', () => {
    const record = pending({
      attempts: 2,
      codeIssuer: 'twilio-verify',
      delivery: { status: 'sent', provider: 'smtp', attempts: 2, lastError: 'x', updatedAt: T0 },
    });
    const { outcome, next, settled } = resend(record, code);
    expect(next).toEqual({
      ...record,
      digest: code.digest,
      expiresAt: code.expiresAt,
      sends: 2,
      lastSentAt: LATER,
      updatedAt: LATER,
      codeIssuer: null,
      delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: LATER },
    });
    expect(outcome).toEqual({ result: 'resent', record: next });
    expect(settled).toBeUndefined();
  });

  it('refuses beyond the send limit and changes nothing', () => {
    const record = pending({ sends: 3 });
    expect(resend(record, code)).toEqual({ outcome: { result: 'max_sends', record } });
  });

  it('re-sends nothing that is missing, expired or settled', () => {
    expect(resend(undefined, code)).toEqual({ outcome: { result: 'not_pending' } });
    expect(resend(pending({ expiresAt: LATER }), code)).toEqual({ outcome: { result: 'not_pending' } });
    expect(resend(pending({ status: 'approved' }), code)).toEqual({ outcome: { result: 'not_pending' } });
  });
});

describe('cancel', () => {
  it('cancels a pending verification and forgets its digest', () => {
    const record = pending();
    expect(cancel(record, LATER)).toEqual({
      outcome: true,
      next: { ...record, status: 'canceled', digest: '', updatedAt: LATER },
      settled: true,
    });
  });

  it('cancels nothing that is missing, expired or settled', () => {
    expect(cancel(undefined, LATER)).toEqual({ outcome: false });
    expect(cancel(pending({ expiresAt: LATER }), LATER)).toEqual({ outcome: false });
    expect(cancel(pending({ status: 'canceled' }), LATER)).toEqual({ outcome: false });
  });
});

describe('reportDelivery', () => {
  it('ignores a report on an earlier send, or on no verification', () => {
    expect(reportDelivery(pending({ sends: 2 }), { sendNumber: 1, status: 'failed' }, LATER)).toEqual({ outcome: 'ignored' });
    expect(reportDelivery(undefined, { sendNumber: 1, status: 'sent' }, LATER)).toEqual({ outcome: 'ignored' });
  });

  it('applies what the report says and keeps what it leaves out', () => {
    const record = pending({ delivery: { status: 'sending', provider: 'smtp', attempts: 1, lastError: 'timeout', updatedAt: T0 } });
    const { outcome, next, settled } = reportDelivery(record, { sendNumber: 1, status: 'sent' }, LATER);
    expect(outcome).toBe('applied');
    expect(settled).toBeUndefined();
    expect(next).toEqual({
      ...record,
      updatedAt: LATER,
      delivery: { status: 'sent', provider: 'smtp', attempts: 1, lastError: 'timeout', updatedAt: LATER },
    });
  });

  it('clears the provider, error and code issuer when the report sets them to null', () => {
    const record = pending({
      codeIssuer: 'twilio-verify',
      delivery: { status: 'sending', provider: 'smtp', attempts: 1, lastError: 'x', updatedAt: T0 },
    });
    const update = { sendNumber: 1, status: 'sending', provider: null, lastError: null, codeIssuer: null, attempts: 2 } as const;
    const { next } = reportDelivery(record, update, LATER);
    expect(next).toMatchObject({ codeIssuer: null, delivery: { provider: null, lastError: null, attempts: 2 } });
  });

  it('fails a pending verification on a failed delivery, expired or not', () => {
    const record = pending({ expiresAt: LATER });
    const { outcome, next, settled } = reportDelivery(record, { sendNumber: 1, status: 'failed', lastError: 'smtp: 550' }, LATER);
    expect(outcome).toBe('failed');
    expect(settled).toBe(true);
    expect(next).toMatchObject({ status: 'failed', digest: '', delivery: { status: 'failed', lastError: 'smtp: 550' } });
  });

  it('records a failed delivery on a settled verification without changing its status', () => {
    const record = pending({ status: 'approved', digest: '' });
    const { outcome, next } = reportDelivery(record, { sendNumber: 1, status: 'failed' }, LATER);
    expect(outcome).toBe('applied');
    expect(next).toMatchObject({ status: 'approved', delivery: { status: 'failed' } });
  });
});

describe('markDeliveryPrivate', () => {
  it('marks an existing verification without touching anything else', () => {
    const record = pending();
    expect(markDeliveryPrivate(record)).toEqual({ outcome: undefined, next: { ...record, deliveryPrivate: true } });
  });

  it('creates nothing for a missing one', () => {
    expect(markDeliveryPrivate(undefined)).toEqual({ outcome: undefined });
  });
});
