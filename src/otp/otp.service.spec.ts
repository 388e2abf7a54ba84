import { jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { messagingConfig, otpConfig } from '../config/config.namespaces.js';
import { loadConfiguration } from '../config/load-configuration.js';
import { EventPublisher } from '../events/event-publisher.port.js';
import { OtpDelivery } from './delivery.port.js';
import { PublishedFraudEvents, FraudEvents } from './fraud/fraud-events.js';
import { FraudGuard } from './fraud/fraud-guard.js';
import { FraudScreen } from './fraud/fraud-screen.js';
import { MemoryFraudGuard } from './fraud/memory-fraud-guard.js';
import { SendLimiter } from './limits/send-limiter.js';
import {
  ChannelUnavailableError,
  OtpAttemptsExceededError,
  OtpIncorrectError,
  OtpRateLimitedError,
  OtpResendTooSoonError,
  VerificationNotFoundError,
} from './otp.errors.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { digestCode, shortDigestCode } from './codes/otp-codes.js';
import { OtpService } from './otp.service.js';
import type { ScopedCheckOutcome, VerificationRecord } from './otp.types.js';
import { OtpStore } from './store/otp-store.js';

type Mocked<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? jest.Mock<(...args: A) => R> : T[K] };

function pending(overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  const now = Date.now();
  return {
    id: '6f1c1c2e-8a3b-4c4d-9e5f-000000000001',
    channel: 'email',
    to: 'a@example.com',
    purpose: 'verify',
    budget: 'api',
    locale: 'en',
    status: 'pending',
    digest: 'd'.repeat(64),
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 600_000,
    attempts: 0,
    maxAttempts: 5,
    sends: 1,
    maxSends: 5,
    lastSentAt: now,
    delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: now },
    codeIssuer: null,
    ...overrides,
  };
}

const API = { budget: 'api' as const };
const SECRET = 's'.repeat(40);

describe('OtpService', () => {
  let service: OtpService;
  let store: Mocked<OtpStore>;
  let limiter: Mocked<SendLimiter>;
  let delivery: Mocked<OtpDelivery>;
  let guard: FraudGuard;

  beforeEach(async () => {
    const { configuration } = loadConfiguration({
      NODE_ENV: 'test',
      OTP_SECRET: SECRET,
      OTP_TEST_DESTINATIONS: 'review@example.com:424242,+447400999999:424242',
    });
    store = {
      createPending: jest.fn(async () => ({ created: true as const })),
      findPendingId: jest.fn(async () => undefined),
      get: jest.fn(async () => undefined),
      resend: jest.fn(async () => ({ result: 'not_pending' as const })),
      check: jest.fn(async () => ({ result: 'not_found' as const })),
      // Left to `get` and `check` unless a test says otherwise, as the store does for what it cannot decide alone.
      checkById: jest.fn(async (): Promise<ScopedCheckOutcome> => ({ result: 'deferred' })),
      settleExternalCheck: jest.fn(async () => ({ result: 'not_found' as const })),
      cancel: jest.fn(async () => false),
      updateDelivery: jest.fn(async () => 'applied' as const),
      markDeliveryPrivate: jest.fn(async () => undefined),
    };
    limiter = {
      consume: jest.fn(async () => ({ allowed: true as const })),
      // As the memory limiter answers it: the store's index, else a send counted.
      consumeUnlessPending: jest.fn(async (to, budget, limits, now, { purpose, subject }) => {
        const pendingId = await store.findPendingId(to, purpose, budget, now, subject);
        return pendingId ? { pendingId } : limiter.consume(to, budget, limits, now);
      }),
      liftCooldown: jest.fn(async () => undefined),
      takeGuess: jest.fn(async () => ({ allowed: true as const })),
      refundGuess: jest.fn(async () => undefined),
      reset: jest.fn(async () => undefined),
    };
    delivery = {
      canDeliver: jest.fn(() => true),
      deliver: jest.fn(async () => undefined),
      withhold: jest.fn(async () => undefined),
      checkProviderCode: jest.fn(async () => true),
      settled: jest.fn(async () => undefined),
    };
    const module = await Test.createTestingModule({
      providers: [
        OtpService,
        MetricsService,
        { provide: otpConfig.KEY, useValue: configuration.otp },
        { provide: messagingConfig.KEY, useValue: configuration.messaging },
        { provide: OtpStore, useValue: store },
        { provide: SendLimiter, useValue: limiter },
        { provide: OtpDelivery, useValue: delivery },
        FraudScreen,
        { provide: FraudGuard, useClass: MemoryFraudGuard },
        { provide: FraudEvents, useClass: PublishedFraudEvents },
        { provide: EventPublisher, useValue: { enabled: false, publish: jest.fn(async () => undefined) } },
      ],
    }).compile();
    service = module.get(OtpService);
    guard = module.get(FraudGuard);
  });

  it('refuses a channel that cannot deliver and stores nothing', async () => {
    delivery.canDeliver.mockReturnValue(false);
    await expect(service.start({ channel: 'email', to: 'a@example.com', purpose: 'verify', locale: 'en' }, {}, API)).rejects.toBeInstanceOf(
      ChannelUnavailableError,
    );
    expect(store.createPending).not.toHaveBeenCalled();
    expect(limiter.consume).not.toHaveBeenCalled();
  });

  it('hands a new code to delivery and never returns it', async () => {
    const view = await service.start({ channel: 'email', to: 'A@Example.com', purpose: 'verify', locale: 'es' }, {}, API);
    const request = delivery.deliver.mock.calls[0]![0];
    expect(request).toMatchObject({ verificationId: view.id, sendNumber: 1, channel: 'email', to: 'a@example.com', locale: 'es' });
    expect(request.code).toMatch(/^\d{6}$/);
    expect(JSON.stringify(view)).not.toContain(request.code);
    expect(store.createPending.mock.calls[0]![0].digest).not.toContain(request.code);
  });

  it('re-sends the pending verification for the same destination and purpose', async () => {
    const record = pending();
    store.findPendingId.mockResolvedValue(record.id);
    store.get.mockResolvedValue(record);
    store.resend.mockResolvedValue({ result: 'resent', record: { ...record, sends: 2 } });
    const view = await service.start({ channel: 'email', to: 'a@example.com', purpose: 'verify', locale: 'en' }, {}, API);
    expect(view.id).toBe(record.id);
    expect(store.createPending).not.toHaveBeenCalled();
    expect(delivery.deliver.mock.calls[0]![0].sendNumber).toBe(2);
  });

  it('says when the cooldown ends', async () => {
    limiter.consume.mockResolvedValue({ allowed: false, reason: 'cooldown', retryAfterMs: 12_300 });
    await expect(service.start({ channel: 'email', to: 'a@example.com', purpose: 'verify', locale: 'en' }, {}, API)).rejects.toMatchObject({
      constructor: OtpResendTooSoonError,
      retryAfterSeconds: 13,
    });
  });

  it('asks the issuing provider to check a code it generated, under our own attempt rules', async () => {
    const record = pending({ codeIssuer: 'twilio-verify', digest: '' });
    store.get.mockResolvedValue(record);
    store.settleExternalCheck.mockResolvedValue({ result: 'approved', record: { ...record, status: 'approved' } });
    await expect(service.check({ id: record.id, code: '123456', realm: 'api' })).resolves.toMatchObject({ status: 'approved' });
    expect(delivery.checkProviderCode).toHaveBeenCalledWith('twilio-verify', 'email', 'a@example.com', '123456');
    expect(store.check).not.toHaveBeenCalled();
  });

  it('counts a send in the budget its caller chose, and keeps one pending verification per budget', async () => {
    await service.start({ channel: 'email', to: 'a@example.com', purpose: 'login', locale: 'en' }, {}, { budget: 'proven' });
    expect(store.findPendingId).toHaveBeenCalledWith('a@example.com', 'login', 'proven', expect.any(Number), undefined);
    expect(limiter.consume).toHaveBeenCalledWith('a@example.com', 'proven', expect.any(Object), expect.any(Number));
    expect(store.createPending.mock.calls[0]![0]).toMatchObject({ budget: 'proven' });
  });

  it('keeps one pending verification per subject, re-sends it for its own subject, and still counts the send per destination', async () => {
    await service.start(
      { channel: 'email', to: 'a@example.com', purpose: 'signup', locale: 'en' },
      {},
      { budget: 'anonymous', subject: 'account-1' },
    );
    expect(store.findPendingId).toHaveBeenCalledWith('a@example.com', 'signup', 'anonymous', expect.any(Number), 'account-1');
    expect(limiter.consume).toHaveBeenCalledWith('a@example.com', 'anonymous', expect.any(Object), expect.any(Number));
    expect(store.createPending.mock.calls[0]![0]).toMatchObject({ budget: 'anonymous', subject: 'account-1' });

    const record = pending({ purpose: 'signup', budget: 'anonymous', subject: 'account-1' });
    store.get.mockResolvedValue(record);
    store.findPendingId.mockResolvedValue(record.id);
    store.resend.mockResolvedValue({ result: 'resent', record: { ...record, sends: 2 } });
    await service.resendById(record.id, 'auth', {});
    expect(store.findPendingId).toHaveBeenLastCalledWith('a@example.com', 'signup', 'anonymous', expect.any(Number), 'account-1');
    expect(store.resend).toHaveBeenCalledWith(record.id, expect.any(Object));
  });

  it('counts each start once: a pending hint that is stale counts the new send, a live one leaves it to the resend', async () => {
    const settled = pending({ status: 'approved' });
    limiter.consumeUnlessPending.mockResolvedValueOnce({ pendingId: settled.id });
    store.get.mockResolvedValueOnce(settled);
    await service.start({ channel: 'email', to: 'a@example.com', purpose: 'verify', locale: 'en' }, {}, API);
    expect(limiter.consume).toHaveBeenCalledTimes(1);
    expect(store.createPending).toHaveBeenCalledTimes(1);

    const live = pending();
    limiter.consumeUnlessPending.mockResolvedValueOnce({ pendingId: live.id });
    store.get.mockResolvedValueOnce(live);
    store.resend.mockResolvedValueOnce({ result: 'resent', record: { ...live, sends: 2 } });
    await service.start({ channel: 'email', to: 'a@example.com', purpose: 'verify', locale: 'en' }, {}, API);
    expect(limiter.consume).toHaveBeenCalledTimes(2);
    expect(store.createPending).toHaveBeenCalledTimes(1);

    // No hint: the one step counted the send already.
    limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: true });
    await service.start({ channel: 'email', to: 'b@example.com', purpose: 'verify', locale: 'en' }, {}, API);
    expect(limiter.consume).toHaveBeenCalledTimes(2);
    expect(store.createPending).toHaveBeenCalledTimes(2);
  });

  it('applies the send limits to test destinations too', async () => {
    limiter.consume.mockResolvedValue({ allowed: false, reason: 'hourly', retryAfterMs: 60_000 });
    await expect(
      service.start({ channel: 'email', to: 'review@example.com', purpose: 'verify', locale: 'en' }, {}, API),
    ).rejects.toBeInstanceOf(OtpRateLimitedError);
    expect(store.createPending).not.toHaveBeenCalled();
  });

  it('never finds, reads, checks, cancels or re-sends a verification of the other realm', async () => {
    const record = pending({ purpose: 'password_reset', budget: 'api' });
    store.get.mockResolvedValue(record);
    store.findPendingId.mockResolvedValue(record.id);
    expect(await service.find(record.id, 'auth')).toBeUndefined();
    await expect(service.get(record.id, 'auth')).rejects.toBeInstanceOf(VerificationNotFoundError);
    await expect(service.check({ id: record.id, code: '123456', realm: 'auth' })).rejects.toBeInstanceOf(VerificationNotFoundError);
    await expect(service.cancel(record.id, 'auth')).rejects.toBeInstanceOf(VerificationNotFoundError);
    await expect(service.resendById(record.id, 'auth', {})).rejects.toBeInstanceOf(VerificationNotFoundError);
    expect(store.check).not.toHaveBeenCalled();
    expect(store.cancel).not.toHaveBeenCalled();
    expect(store.resend).not.toHaveBeenCalled();
    expect(await service.find(record.id, 'api')).toEqual(record);
  });

  it('looks a check by destination up among the pending verifications of its own realm only', async () => {
    await expect(service.check({ to: 'a@example.com', purpose: 'login', code: '123456', realm: 'api' })).rejects.toBeInstanceOf(
      VerificationNotFoundError,
    );
    expect(store.findPendingId.mock.calls.map((call) => call[2])).toEqual(['api']);
  });

  it('lifts the cooldown of the destination and budget of an approved verification, naming its pending entry', async () => {
    const record = pending({ budget: 'anonymous', purpose: 'signup', subject: 'account-1' });
    store.get.mockResolvedValue(record);
    store.check.mockResolvedValue({ result: 'approved', record: { ...record, status: 'approved' } });
    await service.check({ id: record.id, code: '123456', realm: 'auth' });
    expect(limiter.liftCooldown).toHaveBeenCalledWith('a@example.com', 'anonymous', {
      id: record.id,
      purpose: 'signup',
      subject: 'account-1',
    });
  });

  it("counts a test destination's wrong codes against its daily allowance, and refuses once it is spent", async () => {
    const record = pending({ to: 'review@example.com' });
    store.get.mockResolvedValue(record);
    store.check.mockResolvedValue({ result: 'incorrect', record: { ...record, attempts: 1 } });
    await expect(service.check({ id: record.id, code: '000000', realm: 'api' })).rejects.toBeInstanceOf(OtpIncorrectError);
    expect(limiter.takeGuess).toHaveBeenCalledWith('review@example.com', 5, expect.any(Number));
    expect(limiter.refundGuess).not.toHaveBeenCalled();

    store.check.mockResolvedValue({ result: 'approved', record: { ...record, status: 'approved' } });
    await service.check({ id: record.id, code: '424242', realm: 'api' });
    expect(limiter.refundGuess).toHaveBeenCalledWith('review@example.com', expect.any(Number));

    limiter.takeGuess.mockResolvedValue({ allowed: false, retryAfterMs: 3_600_000 });
    store.check.mockClear();
    await expect(service.check({ id: record.id, code: '424242', realm: 'api' })).rejects.toMatchObject({
      constructor: OtpAttemptsExceededError,
      retryAfterSeconds: 3600,
    });
    expect(store.check).not.toHaveBeenCalled();
  });

  it("checks by id in one step, given the realm's budgets, the purpose asked for and the code's short digest", async () => {
    const record = pending();
    store.checkById.mockResolvedValue({ result: 'approved', record: { ...record, status: 'approved' } });
    expect(await service.check({ id: record.id, code: '123456', realm: 'api' })).toMatchObject({ id: record.id, status: 'approved' });
    expect(store.checkById).toHaveBeenCalledWith(
      record.id,
      { budgets: ['api'], purpose: undefined },
      shortDigestCode(SECRET, record.id, '123456'),
      expect.any(Number),
    );
    expect(limiter.liftCooldown).toHaveBeenCalledWith('a@example.com', 'api', { id: record.id, purpose: record.purpose });

    store.checkById.mockResolvedValue({ result: 'incorrect', record: { ...record, attempts: 1 } });
    await expect(service.check({ id: record.id, code: '000000', purpose: 'login', realm: 'auth' })).rejects.toMatchObject({
      constructor: OtpIncorrectError,
      message: 'The code is incorrect. 4 attempts remaining.',
    });
    expect(store.checkById).toHaveBeenLastCalledWith(
      record.id,
      { budgets: ['anonymous', 'proven'], purpose: 'login' },
      expect.any(String),
      expect.any(Number),
    );

    store.checkById.mockResolvedValue({ result: 'not_found' });
    await expect(service.check({ id: record.id, code: '123456', realm: 'api' })).rejects.toBeInstanceOf(VerificationNotFoundError);
    // Decided in that step: nothing was read or checked besides it.
    expect(store.get).not.toHaveBeenCalled();
    expect(store.check).not.toHaveBeenCalled();
  });

  it("stores a test destination's code bound to its purpose, which a check by id alone defers, so each guess is counted", async () => {
    await service.start({ channel: 'email', to: 'review@example.com', purpose: 'verify', locale: 'en' }, {}, API);
    await service.start({ channel: 'email', to: 'b@example.com', purpose: 'verify', locale: 'en' }, {}, API);
    const [review, other] = store.createPending.mock.calls.map(([record]) => record);
    expect(review!.digest).toBe(digestCode(SECRET, review!.id, 'verify', '424242'));
    expect(other!.digest).toHaveLength(32);

    const record = pending({ to: 'review@example.com', purpose: 'verify' });
    store.get.mockResolvedValue(record);
    store.findPendingId.mockResolvedValue(record.id);
    store.resend.mockResolvedValue({ result: 'resent', record: { ...record, sends: 2 } });
    await service.resendById(record.id, 'api', {});
    expect(store.resend.mock.calls[0]![1].digest).toBe(digestCode(SECRET, record.id, 'verify', '424242'));
  });

  it('keeps no daily guess count for destinations whose codes are random', async () => {
    const record = pending();
    store.get.mockResolvedValue(record);
    store.check.mockResolvedValue({ result: 'incorrect', record: { ...record, attempts: 1 } });
    await expect(service.check({ id: record.id, code: '000000', realm: 'api' })).rejects.toBeInstanceOf(OtpIncorrectError);
    expect(limiter.takeGuess).not.toHaveBeenCalled();
  });

  it('marks a send failed when delivery cannot even accept it, and says so', async () => {
    delivery.deliver.mockRejectedValue(new Error('queue unavailable'));
    await expect(service.start({ channel: 'email', to: 'a@example.com', purpose: 'verify', locale: 'en' }, {}, API)).rejects.toThrow(
      'queue unavailable',
    );
    expect(store.updateDelivery.mock.calls[0]![1]).toMatchObject({ sendNumber: 1, status: 'failed' });
  });

  describe('on a store that writes a new verification ahead of the step that indexes it', () => {
    const start = (to = 'a@example.com') => service.start({ channel: 'email', to, purpose: 'verify', locale: 'en' }, {}, API);
    let writeAhead: jest.Mock<(record: VerificationRecord) => Promise<void>>;
    let dropAhead: jest.Mock<(record: VerificationRecord, indexed: boolean) => Promise<void>>;
    beforeEach(() => {
      writeAhead = jest.fn(async () => undefined);
      dropAhead = jest.fn(async () => undefined);
      // The service holds this very object as its store.
      Object.assign(store, { writeAhead, dropAhead });
    });

    it('writes the record first, and has the counted send claim its pending entry in the same step', async () => {
      limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: true, claimed: true });
      const view = await start();
      const written = writeAhead.mock.calls[0]![0];
      expect(written).toMatchObject({ id: view.id, to: 'a@example.com', status: 'pending', sends: 1 });
      expect(writeAhead.mock.invocationCallOrder[0]).toBeLessThan(limiter.consumeUnlessPending.mock.invocationCallOrder[0]!);
      expect(limiter.consumeUnlessPending.mock.calls[0]![4]).toEqual({
        purpose: 'verify',
        subject: undefined,
        claim: { id: view.id, expiresAt: written.expiresAt },
      });
      expect(store.createPending).not.toHaveBeenCalled();
      expect(dropAhead).not.toHaveBeenCalled();
      expect(delivery.deliver.mock.calls[0]![0]).toMatchObject({ verificationId: view.id, sendNumber: 1 });
    });

    it('drops what it wrote ahead when the send is refused, and sends nothing', async () => {
      limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: false, reason: 'hourly', retryAfterMs: 60_000 });
      await expect(start()).rejects.toBeInstanceOf(OtpRateLimitedError);
      expect(dropAhead).toHaveBeenCalledWith(writeAhead.mock.calls[0]![0], false);
      expect(store.createPending).not.toHaveBeenCalled();
      expect(delivery.deliver).not.toHaveBeenCalled();
    });

    it('drops it when another is pending there, and re-sends that one', async () => {
      const other = pending();
      limiter.consumeUnlessPending.mockResolvedValueOnce({ pendingId: other.id });
      store.get.mockResolvedValue(other);
      store.resend.mockResolvedValue({ result: 'resent', record: { ...other, sends: 2 } });
      const view = await start();
      expect(view.id).toBe(other.id);
      expect(dropAhead).toHaveBeenCalledWith(writeAhead.mock.calls[0]![0], false);
      expect(store.createPending).not.toHaveBeenCalled();
      expect(delivery.deliver.mock.calls[0]![0]).toMatchObject({ verificationId: other.id, sendNumber: 2 });
    });

    it('drops it and creates the verification in full when the limiter counted the send without claiming', async () => {
      limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: true });
      const view = await start();
      expect(dropAhead).toHaveBeenCalledWith(expect.objectContaining({ id: view.id }), false);
      expect(store.createPending.mock.calls[0]![0]).toMatchObject({ id: view.id });
    });

    it('answers a refused send as refused when dropping what it wrote fails', async () => {
      dropAhead.mockRejectedValueOnce(new Error('connection lost'));
      limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: false, reason: 'cooldown', retryAfterMs: 5_000 });
      await expect(start()).rejects.toBeInstanceOf(OtpResendTooSoonError);
    });

    it('asks the fraud guard about a send it screens in the same step as the destination, and then sends it', async () => {
      let answer!: (verdict: { allowed: true; claimed: true }) => void;
      limiter.consumeUnlessPending.mockReturnValueOnce(new Promise((resolve) => (answer = resolve)));
      const admit = jest.spyOn(guard, 'admit');
      const refund = jest.spyOn(guard, 'refund');
      const started = service.start({ channel: 'sms', to: '+447400123456', purpose: 'verify', locale: 'en' }, {}, API);
      // Asked before the destination's step has answered: both leave together.
      await new Promise((resolve) => setImmediate(resolve));
      expect(admit).toHaveBeenCalledTimes(1);
      expect(limiter.consumeUnlessPending.mock.invocationCallOrder[0]).toBeLessThan(admit.mock.invocationCallOrder[0]!);
      answer({ allowed: true, claimed: true });
      const view = await started;
      expect(writeAhead.mock.calls[0]![0]).toMatchObject({ id: view.id });
      expect(store.createPending).not.toHaveBeenCalled();
      expect(dropAhead).not.toHaveBeenCalled();
      expect(refund).not.toHaveBeenCalled();
      expect(delivery.deliver.mock.calls[0]![0]).toMatchObject({ verificationId: view.id, to: '+447400123456' });
    });

    it("takes back the fraud guard's count of a send the destination's own limits refuse, before answering", async () => {
      limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: false, reason: 'cooldown', retryAfterMs: 5_000 });
      const admit = jest.spyOn(guard, 'admit');
      let refunded = false;
      jest.spyOn(guard, 'refund').mockImplementationOnce(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        refunded = true;
      });
      const refusal = service.start({ channel: 'sms', to: '+447400123456', purpose: 'verify', locale: 'en' }, {}, API);
      await expect(refusal).rejects.toBeInstanceOf(OtpResendTooSoonError);
      expect(refunded).toBe(true);
      const verdict = await admit.mock.results[0]!.value;
      expect(guard.refund).toHaveBeenCalledWith((verdict as { counted: unknown }).counted);
      expect(delivery.deliver).not.toHaveBeenCalled();
    });

    it("takes it back when the destination's step fails, and answers that failure", async () => {
      limiter.consumeUnlessPending.mockRejectedValueOnce(new Error('connection lost'));
      const refund = jest.spyOn(guard, 'refund');
      await expect(service.start({ channel: 'sms', to: '+447400123456', purpose: 'verify', locale: 'en' }, {}, API)).rejects.toThrow(
        'connection lost',
      );
      expect(refund).toHaveBeenCalledTimes(1);
    });

    it('takes it back for a re-send of the pending verification, which is screened as a re-send', async () => {
      const other = { ...pending(), channel: 'sms' as const, to: '+447400123456' };
      limiter.consumeUnlessPending.mockResolvedValueOnce({ pendingId: other.id });
      store.get.mockResolvedValue(other);
      store.resend.mockResolvedValue({ result: 'resent', record: { ...other, sends: 2 } });
      const admit = jest.spyOn(guard, 'admit');
      const refund = jest.spyOn(guard, 'refund');
      const view = await service.start({ channel: 'sms', to: '+447400123456', purpose: 'verify', locale: 'en' }, {}, API);
      expect(view.id).toBe(other.id);
      // The first admission was taken back before the re-send's own, which stands.
      expect(admit).toHaveBeenCalledTimes(2);
      expect(refund).toHaveBeenCalledTimes(1);
      expect(refund.mock.invocationCallOrder[0]).toBeLessThan(admit.mock.invocationCallOrder[1]!);
      expect(refund).toHaveBeenCalledWith(((await admit.mock.results[0]!.value) as { counted: unknown }).counted);
    });

    it('drops a send the fraud guard refuses with its entry, before it answers the refusal, and sends nothing', async () => {
      limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: true, claimed: true });
      jest.spyOn(guard, 'admit').mockResolvedValue({ allowed: false, reason: 'prefix', retryAfterMs: 60_000 });
      let dropped = false;
      dropAhead.mockImplementationOnce(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        dropped = true;
      });
      const refusal = service.start({ channel: 'sms', to: '+447400123456', purpose: 'verify', locale: 'en' }, {}, API);
      await expect(refusal).rejects.toMatchObject({ code: 'DESTINATION_THROTTLED' });
      expect(dropped).toBe(true);
      expect(dropAhead).toHaveBeenCalledWith(writeAhead.mock.calls[0]![0], true);
      expect(delivery.deliver).not.toHaveBeenCalled();
    });

    it('answers the refusal itself when dropping a refused send fails', async () => {
      limiter.consumeUnlessPending.mockResolvedValueOnce({ allowed: true, claimed: true });
      jest.spyOn(guard, 'admit').mockResolvedValue({ allowed: false, reason: 'suspended', retryAfterMs: 90_000 });
      dropAhead.mockRejectedValueOnce(new Error('connection lost'));
      await expect(service.start({ channel: 'sms', to: '+447400123456', purpose: 'verify', locale: 'en' }, {}, API)).rejects.toMatchObject({
        code: 'DESTINATION_SUSPENDED',
      });
    });
  });

  describe('the fraud guard', () => {
    const sms = (to: string) => ({ channel: 'sms' as const, to, purpose: 'verify', locale: 'en' });

    it("screens every SMS send, counting only codes that reach the number toward its country's rate", async () => {
      const admit = jest.spyOn(guard, 'admit');
      await service.start(sms('+447400123456'), {}, API);
      await service.start(sms('+447400123457'), {}, { budget: 'anonymous', deliver: false });
      await service.start(sms('+447400999999'), {}, API);
      expect(admit.mock.calls.map(([send]) => send)).toEqual([
        { channel: 'sms', country: 'GB', prefix: '+447400123', sampled: true },
        { channel: 'sms', country: 'GB', prefix: '+447400123', sampled: false },
        { channel: 'sms', country: 'GB', prefix: '+447400999', sampled: false },
      ]);
    });

    it('refuses a withheld challenge and a test destination of a suspended country like any send, storing nothing', async () => {
      jest.spyOn(guard, 'admit').mockResolvedValue({ allowed: false, reason: 'suspended', retryAfterMs: 90_000 });
      for (const [to, options] of [
        ['+447400123457', { budget: 'anonymous' as const, deliver: false }],
        ['+447400999999', API],
      ] as const) {
        await expect(service.start(sms(to), {}, options)).rejects.toMatchObject({ code: 'DESTINATION_SUSPENDED', retryAfterSeconds: 90 });
      }
      expect(store.createPending).not.toHaveBeenCalled();
      expect(delivery.deliver).not.toHaveBeenCalled();
    });

    it('makes no call for an email send without a channel cap', async () => {
      const admit = jest.spyOn(guard, 'admit');
      await service.start({ channel: 'email', to: 'a@example.com', purpose: 'verify', locale: 'en' }, {}, API);
      expect(admit).not.toHaveBeenCalled();
    });
  });
});
