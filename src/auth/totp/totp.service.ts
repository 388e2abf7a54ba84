import { Inject, Injectable } from '@nestjs/common';
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { createHmac, hkdfSync, randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { Sealer } from '../../common/sealer.js';
import { otpConfig } from '../../config/config.namespaces.js';
import type { OtpConfig } from '../../config/configuration.types.js';
import { Database } from '../../database/database.constants.js';
import { users } from '../../database/schema.js';
import type { User } from '../users/user.js';
import { RECOVERY_CODE_COUNT, TOTP_DIGITS, TOTP_ISSUER, TOTP_PERIOD_SECONDS, TOTP_WINDOW } from './totp.constants.js';

/** What `POST /v1/auth/totp/enroll` hands the user once: the secret three ways. */
export interface TotpEnrollment {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

/** No 0/o, 1/l/i: a recovery code is often read off paper. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * Authenticator apps (RFC 6238, by the otpauth library): the secret sealed at rest with a key derived from
 * OTP_SECRET and bound to its user, each time step accepted once per user, and recovery codes kept as
 * keyed digests (HMAC), each usable once. Whether the caller may do any of this (password, Bearer token,
 * attempt limits) is decided before these methods are called.
 */
@Injectable()
export class TotpService {
  private readonly sealer: Sealer;
  private readonly recoveryKey: Buffer;

  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(otpConfig.KEY) otp: Pick<OtpConfig, 'secret'>,
  ) {
    this.sealer = new Sealer(otp.secret, 'totp-secret-v1');
    this.recoveryKey = Buffer.from(hkdfSync('sha256', otp.secret, 'otp-gateway', 'totp-recovery-code-v1', 32));
  }

  isEnabled(user: User): boolean {
    return user.totpEnabledAt !== null && user.totpSecret !== null;
  }

  /** A new secret, waiting for `confirm`; replaces one that was never confirmed. Returns undefined when the app is already on. */
  async enroll(user: User): Promise<TotpEnrollment | undefined> {
    const secret = new Secret({ size: 20 });
    const [updated] = await this.db
      .update(users)
      .set({ totpSecret: this.sealer.seal({ secret: secret.base32 }, user.id), totpEnabledAt: null, totpLastStep: null })
      .where(and(eq(users.id, user.id), isNull(users.deletedAt), isNull(users.totpEnabledAt)))
      .returning({ id: users.id });
    if (!updated) return undefined;
    const otpauthUri = this.totpOf(user, secret.base32).toString();
    return {
      secret: secret.base32,
      otpauthUri,
      qrSvg: await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    };
  }

  /**
   * Turns the app on once a code of the enrolled secret is given, and returns fresh recovery codes (their
   * digests replace any earlier ones); otherwise says why not: nothing waits for confirmation, or the code is wrong.
   */
  async confirm(user: User, code: string): Promise<{ recoveryCodes: string[] } | { refused: 'not_enrolled' | 'incorrect' }> {
    if (user.totpSecret === null || user.totpEnabledAt !== null) return { refused: 'not_enrolled' };
    if (!(await this.acceptCode(user, code))) return { refused: 'incorrect' };
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const enabled = await this.db
      .update(users)
      .set({ totpEnabledAt: new Date(), totpRecoveryCodes: recoveryCodes.map((code) => this.recoveryDigest(user.id, code)) })
      .where(and(eq(users.id, user.id), isNull(users.deletedAt), isNull(users.totpEnabledAt), eq(users.totpSecret, user.totpSecret)))
      .returning({ id: users.id });
    return enabled.length > 0 ? { recoveryCodes } : { refused: 'not_enrolled' };
  }

  /** Off: the secret, the last accepted step and the recovery codes are forgotten. */
  async disable(userId: string): Promise<void> {
    await this.db
      .update(users)
      .set({ totpSecret: null, totpEnabledAt: null, totpLastStep: null, totpRecoveryCodes: null })
      .where(eq(users.id, userId));
  }

  /**
   * Whether the code is the app's for now (±1 step) and its time step is later than the last one accepted
   * for this user, which it then becomes, atomically: the same code, or an older one, never works twice.
   */
  async acceptCode(user: User, code: string): Promise<boolean> {
    if (user.totpSecret === null) return false;
    const totp = this.totpOf(user, this.sealer.open<{ secret: string }>(user.totpSecret, user.id).secret);
    const now = Date.now();
    const delta = totp.validate({ token: code, timestamp: now, window: TOTP_WINDOW });
    if (delta === null) return false;
    const step = totp.counter({ timestamp: now }) + delta;
    const claimed = await this.db
      .update(users)
      .set({ totpLastStep: step })
      .where(and(eq(users.id, user.id), isNull(users.deletedAt), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
      .returning({ id: users.id });
    return claimed.length > 0;
  }

  /** Uses up one recovery code of the user; false when it is not one of theirs or was used already (also under concurrent use). */
  async useRecoveryCode(userId: string, code: string): Promise<boolean> {
    const digest = this.recoveryDigest(userId, code);
    // One statement, so of two requests with the same code only one still finds it there.
    const used = await this.db
      .update(users)
      .set({ totpRecoveryCodes: sql`array_remove(${users.totpRecoveryCodes}, ${digest})` })
      .where(and(eq(users.id, userId), isNull(users.deletedAt), sql`${digest} = ANY(${users.totpRecoveryCodes})`))
      .returning({ id: users.id });
    return used.length > 0;
  }

  private totpOf(user: User, base32: string): TOTP {
    return new TOTP({
      issuer: TOTP_ISSUER,
      label: user.email ?? user.phone ?? user.id,
      algorithm: 'SHA1',
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD_SECONDS,
      secret: Secret.fromBase32(base32),
    });
  }

  /** Keyed and bound to the user: a leaked table gives nothing to try offline, nor a code that works for another account. */
  private recoveryDigest(userId: string, code: string): string {
    const normalized = code.replace(/[-\s]/g, '').toLowerCase();
    return createHmac('sha256', this.recoveryKey).update(`${userId}:${normalized}`).digest('base64url');
  }
}

/** 10 characters of a 31-letter alphabet (about 50 bits), shown as two groups of five. */
function newRecoveryCode(): string {
  const characters = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]!).join('');
  return `${characters.slice(0, 5)}-${characters.slice(5)}`;
}
