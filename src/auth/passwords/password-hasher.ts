import { Injectable, type OnModuleInit } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

/**
 * Argon2id with OWASP's minimum for it (19 MiB, 2 passes, 1 lane); the parameters travel in each
 * encoded hash, so raising them later still verifies older hashes.
 */
const ARGON2ID = { memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 };

@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummy: Promise<string> | undefined;

  /** Made before the first login, so that one is not slower by a whole hash. */
  onModuleInit(): void {
    this.dummy ??= this.hash(randomBytes(16).toString('base64url'));
  }

  hash(password: string): Promise<string> {
    return hash(password, ARGON2ID);
  }

  /** False for a wrong password and for a hash that is not one of ours. */
  async verify(encodedHash: string, password: string): Promise<boolean> {
    try {
      return await verify(encodedHash, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends as long as `verify` on a real account and always fails: for an identifier that matches
   * no account, so a login's timing does not tell whether the account exists.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(16).toString('base64url'));
    await this.verify(await this.dummy, password);
    return false;
  }
}
