import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { otpConfig } from '../../config/config.namespaces.js';
import type { OtpConfig } from '../../config/configuration.types.js';
import { parseContact } from '../../otp/destinations/addresses.js';
import { LoginRateLimitedError } from '../auth.errors.js';
import { LOGIN_FAILURE_WINDOW_MS, LoginFailures } from './login-failures.js';

/**
 * `LOGIN_MAX_FAILURES` wrong passwords per identifier per 15 minutes, counted whether or not an
 * account has it, so the answer never tells. Checked before any hash is computed: once the limit is
 * reached even the right password is refused, or the limit would not stop guessing.
 */
@Injectable()
export class LoginAttempts {
  constructor(
    @Inject(LoginFailures) private readonly failures: LoginFailures,
    @Inject(otpConfig.KEY) private readonly config: Pick<OtpConfig, 'loginMaxFailures'>,
  ) {}

  /** @throws LoginRateLimitedError when the identifier has used up its wrong passwords. */
  async assertAllowed(identifier: string): Promise<void> {
    const blockedMs = await this.failures.blockedForMs(keyOf(identifier), this.config.loginMaxFailures);
    if (blockedMs > 0) throw new LoginRateLimitedError(Math.ceil(blockedMs / 1000));
  }

  failed(identifier: string): Promise<void> {
    return this.failures.record(keyOf(identifier), LOGIN_FAILURE_WINDOW_MS);
  }

  succeeded(identifier: string): Promise<void> {
    return this.failures.clear(keyOf(identifier));
  }
}

/**
 * One counter however the identifier is typed (`Ann@Example.com ` and `ann@example.com`, or a number
 * with spaces), keyed by a digest so the store never holds the address.
 */
function keyOf(identifier: string): string {
  const normalized = parseContact(identifier)?.value ?? identifier.trim().toLowerCase();
  return createHash('sha256').update(normalized).digest('base64url').slice(0, 32);
}
