/** Codes are 6 to 10 digits (OTP_LENGTH); the pages do not know which, so anything in between is a whole code. */
export const CODE_DIGITS = { min: 6, max: 10 } as const;

/**
 * The code in whatever was pasted, autofilled or typed: `123456`, `123 456`, `123-456`,
 * `Your code is 123456. It expires in 10 minutes.` or a WebOTP line `@example.com #123456` all give
 * `123456`. Digits separated by single spaces, dots or dashes are one group; the first group of a
 * code's length wins, and without one (a code being typed) all the digits are kept.
 */
export function extractCode(text: string): string {
  const groups = (text.match(/\d(?:[\s.\u2010-\u2015-]?\d)*/g) ?? []).map((group) => group.replace(/\D/g, ''));
  const whole = groups.find((digits) => digits.length >= CODE_DIGITS.min && digits.length <= CODE_DIGITS.max);
  return whole ?? groups.join('').slice(0, CODE_DIGITS.max);
}

export function isWholeCode(digits: string): boolean {
  return /^\d+$/.test(digits) && digits.length >= CODE_DIGITS.min && digits.length <= CODE_DIGITS.max;
}

/** `0:27`, `1:05`: the time left before a resend, rounded up so that `0:00` is never shown while waiting. */
export function formatCountdown(milliseconds: number): string {
  const seconds = Math.max(0, Math.ceil(milliseconds / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
