import { type ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { RequestRateLimitedError } from '../otp.errors.js';

/** Per-IP limits on send and check routes, answering with the SPEC's 429 shape (`RATE_LIMITED`, `retryAfter`). */
@Injectable()
export class IpThrottlerGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new RequestRateLimitedError(Math.max(1, detail.timeToBlockExpire));
  }
}
