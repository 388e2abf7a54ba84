import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Queued messages hold a code, so they are stored encrypted (AES-256-GCM) with a key derived from
 * OTP_SECRET for this one purpose, and bound to their job: a payload moved to another job fails to open.
 */
export class PayloadSealer {
  private readonly key: Buffer;

  constructor(otpSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', otpSecret, 'otp-gateway', 'delivery-queue-payload-v1', 32));
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
