import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * What the service keeps encrypted at rest (queued messages, authenticator secrets): AES-256-GCM with a
 * key derived from OTP_SECRET for one purpose only, each value bound to what it belongs to (a job, a
 * user), so a value moved elsewhere, or sealed for another purpose, fails to open.
 */
export class Sealer {
  private readonly key: Buffer;

  constructor(otpSecret: string, purpose: string) {
    this.key = Buffer.from(hkdfSync('sha256', otpSecret, 'otp-gateway', purpose, 32));
  }

  seal(content: object, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  }

  open<T>(sealed: string, boundTo: string): T {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as T;
  }
}
