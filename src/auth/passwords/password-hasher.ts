import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { otpConfig } from '../../config/config.namespaces.js';
import type { OtpConfig } from '../../config/configuration.types.js';
import { ServiceBusyError } from '../auth.errors.js';
import { HashSlots } from './hash-slots.js';

/**
 * Argon2id with OWASP's minimum for it (19 MiB, 2 passes, 1 lane); the parameters travel in each
 * encoded hash, so raising them later still verifies older hashes.
 */
const ARGON2ID = { memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 };

/** How long a request may wait for a hashing slot before it is told the service is busy. */
export const HASH_SLOT_WAIT_MS = 2000;

@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummy: Promise<string> | undefined;
  /**
   * A flood of logins would otherwise start a hash for each (19 MiB and a core each) and make every
   * request, sign-in or not, wait behind them; beyond these slots a request is refused at once.
   */
  private readonly slots: HashSlots;

  constructor(@Inject(otpConfig.KEY) config: Pick<OtpConfig, 'passwordHashConcurrency'>) {
    this.slots = new HashSlots(config.passwordHashConcurrency, HASH_SLOT_WAIT_MS);
  }

  /** Made before the first login, so that one is not slower by a whole hash. */
  onModuleInit(): void {
    this.dummy ??= this.makeDummy();
  }

  /** @throws ServiceBusyError when no hashing slot frees up within 2 s. */
  hash(password: string): Promise<string> {
    return this.inSlot(() => hash(password, ARGON2ID));
  }

  /**
   * False for a wrong password and for a hash that is not one of ours.
   * @throws ServiceBusyError when no hashing slot frees up within 2 s.
   */
  verify(encodedHash: string, password: string): Promise<boolean> {
    return this.inSlot(async () => {
      try {
        return await verify(encodedHash, password);
      } catch {
        return false;
      }
    });
  }

  /**
   * Spends as long as `verify` on a real account and always fails: for an identifier that matches
   * no account, so a login's timing does not tell whether the account exists.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummy ??= this.makeDummy();
    await this.verify(await this.dummy, password);
    return false;
  }

  private makeDummy(): Promise<string> {
    const made = hash(randomBytes(16).toString('base64url'), ARGON2ID);
    // Made again on next use should it ever fail, rather than failing every unknown-account login after it.
    made.catch(() => (this.dummy = undefined));
    return made;
  }

  private async inSlot<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.slots.acquire();
    if (!release) throw new ServiceBusyError();
    try {
      return await work();
    } finally {
      release();
    }
  }
}
