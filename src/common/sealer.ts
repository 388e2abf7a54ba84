import { createCipheriv, createDecipheriv, hkdfSync, randomFillSync } from 'node:crypto';

const IV_BYTES = 12;
/**
 * Random bytes for the next 256 IVs. One call into the CSPRNG per seal (`randomBytes(12)`) was about 2 %
 * of the API's CPU on sends, a sealed job each; a pool refilled at once costs one call per 256, as
 * `randomUUID` pools its bytes. Each IV is taken once, and only while `seal` runs (it copies it out).
 */
const ivPool = Buffer.alloc(IV_BYTES * 256);
let ivOffset = ivPool.length;

function nextIv(): Buffer {
  if (ivOffset === ivPool.length) {
    randomFillSync(ivPool);
    ivOffset = 0;
  }
  ivOffset += IV_BYTES;
  return ivPool.subarray(ivOffset - IV_BYTES, ivOffset);
}

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
    const iv = nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  }

  open<T>(sealed: string, boundTo: string): T {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + 16));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(IV_BYTES + 16)), decipher.final()]).toString('utf8')) as T;
  }
}
