import { jest } from '@jest/globals';
import { loadConfiguration } from '../../config/load-configuration.js';
import type { OtpDelivery } from '../delivery.port.js';
import type { SendLimiter } from '../limits/send-limiter.js';
import { ChannelUnavailableError } from '../otp.errors.js';
import type { VerificationRecord } from '../otp.types.js';
import type { OtpStore } from '../store/otp-store.js';
import { DestinationPolicies, TEST_DESTINATION_PROVIDER } from './destination-policy.js';

type Mocked<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? jest.Mock<(...args: A) => R> : T[K] };

function recordTo(to: string, overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  const now = Date.now();
  return {
    id: '6f1c1c2e-8a3b-4c4d-9e5f-000000000001',
    channel: 'email',
    to,
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

describe('DestinationPolicies', () => {
  let store: Pick<Mocked<OtpStore>, 'updateDelivery' | 'get'>;
  let limiter: Pick<Mocked<SendLimiter>, 'takeGuess' | 'refundGuess'>;
  let delivery: Pick<Mocked<OtpDelivery>, 'canDeliver' | 'deliver' | 'withhold'>;

  function policies(env: Record<string, string> = {}): DestinationPolicies {
    const { configuration } = loadConfiguration({
      NODE_ENV: 'test',
      OTP_SECRET: 's'.repeat(40),
      OTP_TEST_DESTINATIONS: 'review@example.com:424242',
      ...env,
    });
    const ports = { store, limiter, delivery } as unknown as ConstructorParameters<typeof DestinationPolicies>[1];
    return new DestinationPolicies(configuration.otp, ports);
  }

  beforeEach(() => {
    store = { updateDelivery: jest.fn(async () => 'applied' as const), get: jest.fn(async () => undefined) };
    limiter = { takeGuess: jest.fn(async () => ({ allowed: true as const })), refundGuess: jest.fn(async () => undefined) };
    delivery = { canDeliver: jest.fn(() => true), deliver: jest.fn(async () => undefined), withhold: jest.fn(async () => undefined) };
  });

  it('gives a test destination its fixed code, on a channel that cannot deliver too, recorded as sent at once', async () => {
    delivery.canDeliver.mockReturnValue(false);
    const policy = policies().for('review@example.com');
    expect(() => policy.assertCanSend('email')).not.toThrow();
    expect(policy.issueCode()).toBe('424242');
    expect(policy.firstDelivery(1_000)).toEqual({
      status: 'sent',
      provider: TEST_DESTINATION_PROVIDER,
      attempts: 0,
      lastError: null,
      updatedAt: 1_000,
    });
  });

  it("never delivers a test destination's code, and marks a resend sent", async () => {
    const policy = policies().for('review@example.com');
    const first = recordTo('review@example.com', { delivery: policy.firstDelivery(Date.now()) });
    expect(await policy.send(first, '424242', Date.now())).toBe(first);
    expect(store.updateDelivery).not.toHaveBeenCalled();

    const resent = recordTo('review@example.com', { sends: 2 });
    const marked = recordTo('review@example.com', { sends: 2, delivery: policy.firstDelivery(Date.now()) });
    store.get.mockResolvedValue(marked);
    expect(await policy.send(resent, '424242', 5_000)).toBe(marked);
    expect(store.updateDelivery).toHaveBeenCalledWith(
      resent.id,
      { sendNumber: 2, status: 'sent', provider: TEST_DESTINATION_PROVIDER },
      5_000,
    );
    expect(delivery.deliver).not.toHaveBeenCalled();
  });

  it("counts a test destination's guesses per destination, OTP_MAX_ATTEMPTS a day", async () => {
    const policy = policies({ OTP_MAX_ATTEMPTS: '3' }).for('review@example.com');
    await policy.takeGuess(1_000);
    await policy.refundGuess(2_000);
    expect(limiter.takeGuess).toHaveBeenCalledWith('review@example.com', 3, 1_000);
    expect(limiter.refundGuess).toHaveBeenCalledWith('review@example.com', 2_000);
  });

  it('hands any other destination a fresh code to deliver, and keeps no daily guess count for it', async () => {
    const policy = policies().for('a@example.com');
    expect(policy.issueCode()).toMatch(/^\d{6}$/);
    expect(policy.firstDelivery(1_000)).toMatchObject({ status: 'queued', provider: null });
    const record = recordTo('a@example.com');
    await policy.send(record, '123456', Date.now());
    expect(delivery.deliver).toHaveBeenCalledWith(
      expect.objectContaining({ verificationId: record.id, to: 'a@example.com', code: '123456', sendNumber: 1 }),
    );
    expect(await policy.takeGuess(1_000)).toEqual({ allowed: true });
    await policy.refundGuess(1_000);
    expect(limiter.takeGuess).not.toHaveBeenCalled();
    expect(limiter.refundGuess).not.toHaveBeenCalled();
  });

  it('refuses a delivered code on a channel that cannot deliver', () => {
    delivery.canDeliver.mockReturnValue(false);
    expect(() => policies().for('a@example.com').assertCanSend('email')).toThrow(ChannelUnavailableError);
    expect(() => policies().for('a@example.com', { deliver: false }).assertCanSend('email')).toThrow(ChannelUnavailableError);
  });

  it('issues OTP_FIXED_CODE in development, still delivered', async () => {
    const policy = policies({ NODE_ENV: 'development', OTP_FIXED_CODE: '111111' }).for('a@example.com');
    expect(policy.issueCode()).toBe('111111');
    await policy.send(recordTo('a@example.com'), '111111', Date.now());
    expect(delivery.deliver).toHaveBeenCalledTimes(1);
  });

  it('withholds a code its caller will not deliver, handing it to withhold instead, and still records the send as queued', async () => {
    const policy = policies().for('a@example.com', { deliver: false });
    const record = recordTo('a@example.com');
    expect(await policy.send(record, '123456', Date.now())).toBe(record);
    expect(policy.firstDelivery(1_000)).toMatchObject({ status: 'queued' });
    expect(delivery.deliver).not.toHaveBeenCalled();
    expect(delivery.withhold).toHaveBeenCalledWith(
      expect.objectContaining({ verificationId: record.id, sendNumber: 1, to: 'a@example.com' }),
    );
    expect(store.updateDelivery).not.toHaveBeenCalled();
  });

  it('fails a withheld send the queue could not take as it fails a delivered one', async () => {
    delivery.deliver.mockRejectedValue(new Error('queue down'));
    delivery.withhold.mockRejectedValue(new Error('queue down'));
    for (const deliver of [true, false]) {
      store.updateDelivery.mockClear();
      await expect(policies().for('a@example.com', { deliver }).send(recordTo('a@example.com'), '123456', Date.now())).rejects.toThrow(
        'queue down',
      );
      expect(store.updateDelivery).toHaveBeenCalledWith(
        '6f1c1c2e-8a3b-4c4d-9e5f-000000000001',
        { sendNumber: 1, status: 'failed', lastError: 'the message could not be queued' },
        expect.any(Number),
      );
    }
  });

  it("keeps a test destination's code undelivered whatever the caller asks", () => {
    expect(policies().for('review@example.com', { deliver: true }).issueCode()).toBe('424242');
    expect(policies().for('review@example.com', { deliver: false }).firstDelivery(1)).toMatchObject({ status: 'sent' });
  });
});
