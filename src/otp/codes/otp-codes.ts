import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/** `length` digits from a CSPRNG, leading zeros kept (a code is a string, never a number). */
export function generateCode(length: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += String(randomInt(10));
  return code;
}

/**
 * HMAC-SHA256 keyed by OTP_SECRET over the verification id, purpose and code: a stored digest
 * is useless for any other verification or purpose, and useless without the key.
 */
export function digestCode(secret: string, verificationId: string, purpose: string, code: string): string {
  return createHmac('sha256', secret).update(`${verificationId}\0${purpose}\0${code}`).digest('hex');
}

/** Constant-time comparison; an empty digest (a settled or provider-issued code) never matches anything. */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length === 0) return false;
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
