// The public /v1/auth routes, typed by the client generated from the OpenAPI document, so a page
// cannot send or read a field the API does not have.
import type { components } from '../../../clients/typescript/src/schema.js';

type Schemas = components['schemas'];
export type ApiError = Schemas['ErrorResponse'];
export type Result<T> = { ok: true; body: T } | { ok: false; error: ApiError };
export type Channel = Schemas['ChallengeStatusResponse']['channel'];
export type ChallengeStatus = Schemas['ChallengeStatusResponse'];
export type TokenPair = Schemas['TokenPairResponse'];
export type Challenge = Schemas['ChallengeResponse'];

/** The service's clock minus this browser's, from each answer's `Date` header. */
let clockOffsetMs = 0;

/** Now by the service's clock, to count down to a `resendAvailableAt` it gave. */
export function serviceNow(): number {
  return Date.now() + clockOffsetMs;
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: object, accessToken?: string): Promise<Result<T>> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  let response: Response;
  try {
    response = await fetch(`/v1/auth/${path}`, { method, headers, body: JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch {
    return { ok: false, error: { statusCode: 0, code: 'NETWORK', message: 'The service cannot be reached.' } };
  }
  // Whole seconds, rounded down: a countdown by it ends up to a second late, never early.
  const date = Date.parse(response.headers.get('date') ?? '');
  if (!Number.isNaN(date)) clockOffsetMs = date - Date.now();
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (response.ok) return { ok: true, body: parsed as T };
  const error = parsed as ApiError | undefined;
  return { ok: false, error: error?.code ? error : { statusCode: response.status, code: `HTTP_${response.status}`, message: text } };
}

export const auth = {
  register: (body: Schemas['RegisterDto']) => call<Schemas['RegisterResponse']>('POST', 'register', body),
  login: (body: Schemas['LoginDto']) => call<Schemas['ChallengeResponse']>('POST', 'login', body),
  start: (body: Schemas['StartOtpDto']) => call<Schemas['StartedChallengeResponse']>('POST', 'otp/start', body),
  // A challenge instead of tokens: a reset of an account with an authenticator app, whose sign-in needs the app's code.
  verify: (body: Schemas['VerifyOtpDto']) => call<TokenPair | Challenge>('POST', 'otp/verify', body),
  resend: (body: Schemas['ResendOtpDto']) => call<Schemas['ResentChallengeResponse']>('POST', 'otp/resend', body),
  status: (challengeId: string) => call<ChallengeStatus>('GET', `otp/${encodeURIComponent(challengeId)}`),
  logout: (accessToken: string, body: Schemas['LogoutDto']) => call<undefined>('POST', 'logout', body, accessToken),
};
