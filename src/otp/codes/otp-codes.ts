import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/** `length` digits from a CSPRNG, leading zeros kept (a code is a string, never a number). */
export function generateCode(length: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += String(randomInt(10));
  return code;
}

/**
 * The digest earlier versions stored: HMAC-SHA256 keyed by OTP_SECRET over the verification id, purpose
 * and code. Still compared for the verifications they wrote (`matchesCandidate`) until those expire, and
 * stored for a destination whose wrong guesses count per day: a check by id alone compares only the
 * short digest, so this one sends its checks where the day's guess is taken first (`OtpService.digestFor`).
 */
export function digestCode(secret: string, verificationId: string, purpose: string, code: string): string {
  return createHmac('sha256', secret).update(`${verificationId}\0${purpose}\0${code}`).digest('hex');
}

/** The length of `shortDigestCode`'s hex: 16 bytes. */
export const SHORT_DIGEST_HEX = 32;

/**
 * The digest a verification stores of its code: HMAC-SHA256 keyed by OTP_SECRET over the verification id
 * and code, its first 16 bytes (32 hex characters; 128 bits, where a code is locked after a handful of
 * wrong guesses). An id is never reused, so the id alone makes it useless for any other verification, and
 * it is useless without the key; the purpose `digestCode` binds as well is always the one the verification
 * holds (every check digests with it), so binding it adds nothing, and leaving it out lets a check compare
 * without reading the verification first.
 */
export function shortDigestCode(secret: string, verificationId: string, code: string): string {
  return createHmac('sha256', secret).update(`${verificationId}\0${code}`).digest('hex').slice(0, SHORT_DIGEST_HEX);
}

/** A code as a check compares it with the stored digest, whichever of the two kinds that is. */
export interface CodeCandidate {
  /** As `digestCode` gives it. */
  digest: string;
  /** As `shortDigestCode` gives it. */
  short: string;
}

export function candidateOf(secret: string, verificationId: string, purpose: string, code: string): CodeCandidate {
  return { digest: digestCode(secret, verificationId, purpose, code), short: shortDigestCode(secret, verificationId, code) };
}

/**
 * Constant-time comparison of a stored digest with the candidate of its kind, which its length says (64 hex
 * characters: `digestCode`; 32: `shortDigestCode`); an empty digest (a settled or provider-issued code), or
 * one of any other length, never matches anything.
 */
export function matchesCandidate(stored: string, candidate: CodeCandidate): boolean {
  return digestsEqual(stored, stored.length === SHORT_DIGEST_HEX ? candidate.short : candidate.digest);
}

/** Constant-time comparison; an empty digest (a settled or provider-issued code) never matches anything. */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length === 0) return false;
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
