/**
 * Matches a one-time code standing on its own in text (a log line, a Redis dump, a response body).
 * A bare substring check is not enough: six digits recur by chance inside UUIDs, hex digests, base64
 * and metric values, and a suite that issues dozens of codes then fails now and again for no reason.
 */
export function standaloneCode(code: string): RegExp {
  // Not inside a longer word, hex or base64 run, nor a decimal; a sentence's full stop is a boundary.
  return new RegExp(`(?<![\\w+/=-])(?<!\\d\\.)${code}(?![\\w+/=-])(?!\\.\\d)`);
}
