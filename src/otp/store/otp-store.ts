import type { CodeCandidate } from '../codes/otp-codes.js';
import type { SentMark } from '../delivery.port.js';
import type { SendBudget } from '../limits/send-limiter.js';
import type {
  CheckOutcome,
  CheckScope,
  DeliveryUpdate,
  NewCode,
  ResendOutcome,
  ScopedCheckOutcome,
  VerificationRecord,
} from '../otp.types.js';

/**
 * Where verifications live: Redis (shared by replicas) or memory (embedded mode), chosen once by
 * configuration. Every method that decides something is atomic in both, so concurrent checks of
 * one verification consume attempts exactly once each and approve at most once.
 */
export interface OtpStore {
  /**
   * Stores a new pending verification and makes it the pending one for its `to`+`purpose`+`budget`+`subject`, unless
   * another is pending there: then nothing is stored and that one's id is returned.
   */
  createPending(record: VerificationRecord): Promise<{ created: true } | { created: false; pendingId: string }>;
  /**
   * Where the send limiter keeps the pending index beside its counts (Redis): writes a new pending verification
   * without its index entry, ahead of the limiter step that counts its send and claims the entry for it in the
   * same write (`SendLimiter.consumeUnlessPending` with a `claim`). Written first, so on one server the entry
   * never names a verification that is not there yet. Absent where the limiter cannot claim (memory):
   * `createPending` does both.
   */
  writeAhead?(record: VerificationRecord): Promise<void>;
  /**
   * Deletes a verification written ahead whose send did not go out: unclaimed, so nothing names it; or `indexed`,
   * claimed and then refused (the fraud guard), when its entry goes first, if it still names it.
   */
  dropAhead?(record: VerificationRecord, indexed: boolean): Promise<void>;
  /** The id of the pending verification for `to`+`purpose`+`budget`+`subject` (none: one without), if one is pending and unexpired. */
  findPendingId(to: string, purpose: string, budget: SendBudget, now: number, subject?: string): Promise<string | undefined>;
  get(id: string): Promise<VerificationRecord | undefined>;
  /** A fresh code for a pending verification: the old digest stops working, failed attempts stay. */
  resend(id: string, code: NewCode): Promise<ResendOutcome>;
  /**
   * Compares the digest with the candidate's of its kind, counts a wrong code, locks at the limit, approves once.
   * A verification it settles leaves the pending index; an approved one's entry, where the send limiter keeps the
   * index beside its counts (Redis), is dropped by the approval's `SendLimiter.liftCooldown`, and until then names
   * a verification that is no longer pending, which no lookup takes for one. So for `checkById` and `settleExternalCheck`.
   */
  check(id: string, candidate: CodeCandidate, now: number): Promise<CheckOutcome>;
  /**
   * `check` in one step from the id alone, with the short digest of the code (`shortDigestCode`, over the id and
   * code): a verification outside `scope` is `not_found`, as if absent. `deferred`, nothing changed: one the caller
   * must read first, because its code is checked by its provider, or its digest is bound to the purpose (an
   * earlier version's, or a destination's that counts wrong guesses per day); `get`, then `check`, decide it.
   */
  checkById(id: string, scope: CheckScope, short: string, now: number): Promise<ScopedCheckOutcome>;
  /** For codes a provider issued and checked itself: records the verdict under the same rules. */
  settleExternalCheck(id: string, approved: boolean, now: number): Promise<CheckOutcome>;
  /** Pending → canceled; false when it was not pending. */
  cancel(id: string, now: number): Promise<boolean>;
  /**
   * Applies a delivery report for the current send only; a failed delivery fails the verification.
   * `ignored`: nothing changed (an earlier send, or a receipt that is a duplicate or out of order).
   * `unlessMarked`: the delivery ledger's mark of a send that went out (a field of the verification's
   * hash, or a key beside it); when it is there the report is `ignored`, checked in the same step. Only
   * the Redis store is given one: the memory ledger names none.
   */
  updateDelivery(id: string, update: DeliveryUpdate, now: number, unlessMarked?: SentMark): Promise<DeliveryOutcome>;
  /** Sets `deliveryPrivate` for good; nothing when the verification does not exist. */
  markDeliveryPrivate(id: string): Promise<void>;
}

export type DeliveryOutcome = 'ignored' | 'applied' | 'failed';

export const OtpStore = Symbol('OtpStore');

/** How long a verification stays readable after its last change (the SPEC asks for at least 24 h). */
export const RETENTION_MS = 24 * 60 * 60 * 1000;
