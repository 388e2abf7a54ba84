import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';
/** Every request and response body of the API, by the name the OpenAPI document gives it. */
export type Schemas = components['schemas'];
/** The body of every error answer: `{statusCode, code, message}` and the fields some codes add. */
export type ApiError = Schemas['ErrorResponse'];
export type OtpGatewayClient = Client<paths>;

export interface OtpGatewayClientOptions extends Omit<ClientOptions, 'headers'> {
  /** e.g. `http://127.0.0.1:3000`: the paths of the API (`/v1/...`, `/health`) are appended to it. */
  baseUrl: string;
  /** One of the service's `API_KEYS`, sent as `X-Api-Key`: needed for `/v1/verifications` only (never in a browser). */
  apiKey?: string;
  headers?: Record<string, string>;
}

/**
 * A client for the whole API: each call is checked against the OpenAPI document's path, method,
 * parameters and body, and answers `{ data }` (the success body) or `{ error }` (an `ApiError`),
 * with `response` for the status and headers. Signed-in calls pass the access token per request:
 * `client.GET('/v1/auth/me', { headers: bearer(accessToken) })`.
 */
export function createOtpGatewayClient({ apiKey, headers, ...options }: OtpGatewayClientOptions): OtpGatewayClient {
  return createClient<paths>({ ...options, headers: { ...(apiKey === undefined ? {} : { 'x-api-key': apiKey }), ...headers } });
}

/** The `Authorization` header of a signed-in call. */
export function bearer(accessToken: string): { authorization: string } {
  return { authorization: `Bearer ${accessToken}` };
}
