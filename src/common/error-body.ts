/**
 * The API's one error body, in the shape the SPEC gives: `{statusCode, code, message, ...fields}`, plus
 * `retryAfter` when a retry can succeed later. Whoever sends it puts the same seconds in `Retry-After`.
 */
export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  retryAfter?: number;
  [field: string]: unknown;
}

/**
 * `fields` are what some errors add (`attemptsRemaining`, `errors`, `errorId`, readiness details); they never
 * replace the three common ones, which come first. `retryAfterSeconds` becomes whole seconds, at least 1.
 */
export function errorBody(
  statusCode: number,
  code: string,
  message: string,
  fields: Record<string, unknown> = {},
  retryAfterSeconds?: number,
): ErrorBody {
  const body: ErrorBody = Object.assign({ statusCode, code, message }, fields, { statusCode, code, message });
  if (retryAfterSeconds !== undefined) body.retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
  return body;
}
