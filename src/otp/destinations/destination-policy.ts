import type { Channel, OtpConfig } from '../../config/configuration.types.js';
import { generateCode } from '../codes/otp-codes.js';
import type { DeliveryRequest, OtpDelivery } from '../delivery.port.js';
import type { GuessVerdict, SendLimiter } from '../limits/send-limiter.js';
import { ChannelUnavailableError } from '../otp.errors.js';
import type { DeliveryState, VerificationRecord } from '../otp.types.js';
import type { OtpStore } from '../store/otp-store.js';

/** The provider a test destination's sends are recorded as sent by: nothing ever leaves the service for one. */
export const TEST_DESTINATION_PROVIDER = 'test-destination';

/**
 * What sending to a destination means: how its codes are made, whether they are delivered, and how
 * wrong guesses at them are counted. Chosen once per send or check by `DestinationPolicies.for`; the
 * send limits and OTP_MAX_SENDS apply whatever the policy, a fixed code being no reason to send (or
 * guess) without limit.
 */
export interface DestinationPolicy {
  /**
   * Whether its codes reach the destination: only those count toward a country's conversion rate in
   * the fraud guard (a code never sent costs nothing, and a fixed one is known to too many people).
   */
  readonly reachesDestination: boolean;
  /** Whether its wrong guesses also count per day (`takeGuess`), before a code of its is compared. */
  readonly countsGuesses: boolean;
  /** Refuses a send, before anything is stored or counted, whose code could not reach the destination. */
  assertCanSend(channel: Channel): void;
  /** The code of a new send (the first, or a resend). */
  issueCode(): string;
  /** How a new verification's first send is recorded. */
  firstDelivery(now: number): DeliveryState;
  /** Sends the code of the send `record` just recorded, and returns the verification as it then stands. */
  send(record: VerificationRecord, code: string, now: number): Promise<VerificationRecord>;
  /** Takes one of the destination's wrong guesses of the day before a code of ours is compared, where those are counted. */
  takeGuess(now: number): Promise<GuessVerdict>;
  /** Gives back the guess `takeGuess` took: only a wrong code spends one. */
  refundGuess(now: number): Promise<void>;
}

/** What the policies act through: the OTP core's own ports. */
export interface DestinationPorts {
  store: OtpStore;
  limiter: SendLimiter;
  delivery: OtpDelivery;
}

const ALLOWED: GuessVerdict = { allowed: true };

/**
 * A code handed to delivery: a fresh random one, or OTP_FIXED_CODE (refused in production) in
 * development. Each verification's own attempts are the only limit on guessing it.
 */
class DeliveredDestination implements DestinationPolicy {
  readonly reachesDestination: boolean = true;
  readonly countsGuesses = false;

  constructor(
    private readonly config: OtpConfig,
    protected readonly ports: DestinationPorts,
  ) {}

  assertCanSend(channel: Channel): void {
    if (!this.ports.delivery.canDeliver(channel)) throw new ChannelUnavailableError(channel);
  }

  issueCode(): string {
    return this.config.fixedCode ?? generateCode(this.config.length);
  }

  firstDelivery(now: number): DeliveryState {
    return { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: now };
  }

  /** A failure to even accept the code fails this send visibly rather than leaving it "queued". */
  async send(record: VerificationRecord, code: string): Promise<VerificationRecord> {
    try {
      await this.handOver({
        verificationId: record.id,
        sendNumber: record.sends,
        channel: record.channel,
        to: record.to,
        code,
        purpose: record.purpose,
        locale: record.locale,
        expiresAt: new Date(record.expiresAt),
      });
    } catch (error) {
      await this.ports.store
        .updateDelivery(record.id, { sendNumber: record.sends, status: 'failed', lastError: 'the message could not be queued' }, Date.now())
        .catch(() => undefined);
      throw error;
    }
    return record;
  }

  protected handOver(request: DeliveryRequest): Promise<void> {
    return this.ports.delivery.deliver(request);
  }

  async takeGuess(): Promise<GuessVerdict> {
    return ALLOWED;
  }

  async refundGuess(): Promise<void> {}
}

/**
 * A real, checkable code that is never sent: the auth flows' answer to a destination that may not
 * receive codes (no account, or a contact not confirmed), so it behaves exactly like a real challenge
 * without revealing anything. Still refused where the channel could not deliver, as a real one would be;
 * and handed to delivery's `withhold`, which queues it as a delivered code is queued and sends nothing, so
 * the answer takes as long, and fails the same way when the queue cannot take it.
 */
class WithheldDestination extends DeliveredDestination {
  override readonly reachesDestination = false;

  protected override handOver(request: DeliveryRequest): Promise<void> {
    return this.ports.delivery.withhold(request);
  }
}

/**
 * A destination of OTP_TEST_DESTINATIONS (app-store review, CI): its fixed code, never delivered, on
 * any enabled channel. The code never changes, so every new verification would bring fresh attempts
 * at it: its wrong guesses also count per destination, at most OTP_MAX_ATTEMPTS a day.
 */
class TestDestination implements DestinationPolicy {
  readonly reachesDestination = false;
  readonly countsGuesses = true;

  constructor(
    private readonly to: string,
    private readonly code: string,
    private readonly guessesPerDay: number,
    private readonly ports: DestinationPorts,
  ) {}

  assertCanSend(): void {}

  issueCode(): string {
    return this.code;
  }

  firstDelivery(now: number): DeliveryState {
    return { status: 'sent', provider: TEST_DESTINATION_PROVIDER, attempts: 0, lastError: null, updatedAt: now };
  }

  /** A new verification is stored as sent already; a resend, queued by the store like any other, is marked sent here. */
  async send(record: VerificationRecord, _code: string, now: number): Promise<VerificationRecord> {
    if (record.delivery.status === 'sent') return record;
    await this.ports.store.updateDelivery(
      record.id,
      { sendNumber: record.sends, status: 'sent', provider: TEST_DESTINATION_PROVIDER },
      now,
    );
    return (await this.ports.store.get(record.id)) ?? record;
  }

  takeGuess(now: number): Promise<GuessVerdict> {
    return this.ports.limiter.takeGuess(this.to, this.guessesPerDay, now);
  }

  refundGuess(now: number): Promise<void> {
    return this.ports.limiter.refundGuess(this.to, now);
  }
}

/** Chooses each destination's policy: a test destination's fixed code first, else delivery, unless the caller withholds it. */
export class DestinationPolicies {
  private readonly delivered: DestinationPolicy;
  private readonly withheld: DestinationPolicy;
  private readonly tests: ReadonlyMap<string, DestinationPolicy>;

  constructor(config: OtpConfig, ports: DestinationPorts) {
    this.delivered = new DeliveredDestination(config, ports);
    this.withheld = new WithheldDestination(config, ports);
    this.tests = new Map(
      Object.entries(config.testDestinations).map(([to, code]) => [to, new TestDestination(to, code, config.maxAttempts, ports)]),
    );
  }

  /**
   * The policy of a normalized destination. `deliver: false` stores real, checkable codes but sends
   * none; a test destination's code is never sent anyway.
   */
  for(to: string, { deliver = true }: { deliver?: boolean } = {}): DestinationPolicy {
    return this.tests.get(to) ?? (deliver ? this.delivered : this.withheld);
  }
}
