import type { INestApplication } from '@nestjs/common';
import type { AppConfig } from '../config/configuration.types.js';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ErrorResponse } from './api-errors.js';

/** The UI; @nestjs/swagger serves the raw document beside it, as `/docs-json`. */
const DOCS_PATH = 'docs';
export const API_KEY_SCHEME = 'apiKey';
export const BEARER_SCHEME = 'bearer';

/** The document's introduction: what the service is, and the few flows a newcomer needs before the route list helps. */
export const DESCRIPTION = [
  'One-time passcodes over email, SMS and WhatsApp, and the sign-up, login, passwordless and password-reset flows built on them. ' +
    'Every error has the `ErrorResponse` shape (each response below shows an example per `code`); ' +
    'every 429 carries a `Retry-After` header.',
  '',
  '## Flows',
  '',
  '- **Sign up**: `POST /v1/auth/register` `{email, password}` answers 201 with a `challengeId`, and a code goes to that address. ' +
    '`POST /v1/auth/otp/verify` `{challengeId, code}` verifies the address and answers with an `accessToken` and a `refreshToken`.',
  '- **Sign in**: `POST /v1/auth/login` `{identifier, password}` sends the second factor and answers with a `challengeId`; ' +
    'complete it with `POST /v1/auth/otp/verify`. ' +
    'Passwordless login and a forgotten password start with `POST /v1/auth/otp/start` (202) ' +
    'and end the same way (`newPassword` too for a reset). ' +
    '`POST /v1/auth/otp/resend` sends a fresh code for the same challenge.',
  '- **Your own flow, server to server**: `POST /v1/verifications` (`X-Api-Key`) sends a code; `POST /v1/verifications/check` checks it; ' +
    '`GET /v1/verifications/{id}` shows whether it was delivered.',
  '',
  '## Codes in development',
  '',
  'Without a configured provider, development and test mode deliver through the `console` provider: ' +
    "the code is on one line of the service's log, " +
    'context `ConsoleProvider`, e.g. `[email] code 123456 for jane@example.com (purpose signup, expires in 10 min)`. ' +
    'Production refuses that provider; `OTP_TEST_DESTINATIONS` gives fixed codes to chosen destinations (app-store review, CI) ' +
    'and never delivers them.',
  '',
  '## Checking an access token in your backend',
  '',
  'The client sends it as `Authorization: Bearer <accessToken>`. ' +
    '`GET /v1/auth/me` with that header answers 200 with the account, or 401: ' +
    'the authoritative check, which also refuses the token of a session that has ended. ' +
    'To check it without a call, verify the JWT against the keys published at `GET /.well-known/jwks.json` (by its `kid`): ' +
    'algorithm `ES256` only, `iss` `otp-gateway`, `aud` `otp-gateway-api`, `exp` not passed ' +
    "(with `JWT_ALGORITHM=HS256`: `HS256` with the service's `JWT_SECRET` instead); " +
    '`sub` is the user id. Such a check cannot see a session that ended before the token expires (15 minutes).',
].join('\n');

/**
 * `GET /docs` (Swagger UI) and `GET /docs-json` (the OpenAPI document), read from the controllers and
 * DTOs. Call after versioning is enabled, so paths read `/v1/...` as served. The document is built on
 * its first request rather than at start-up: most processes are never asked for it.
 */
export function setUpOpenApi(app: INestApplication, { name, version }: Pick<AppConfig, 'name' | 'version'>): void {
  const config = new DocumentBuilder()
    .setTitle(name)
    .setDescription(DESCRIPTION)
    .setVersion(version)
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-Api-Key',
        description: 'One of the keys in `API_KEYS` for `/v1/verifications`, of `ADMIN_API_KEYS` for `/v1/admin`.',
      },
      API_KEY_SCHEME,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'An `accessToken` from `POST /v1/auth/otp/verify` or `/v1/auth/token/refresh`.',
      },
      BEARER_SCHEME,
    )
    .addTag('verifications', 'Server to server: issue, check, read and cancel one-time passcodes (`X-Api-Key`).')
    .addTag('admin', 'Support actions (`X-Api-Key` with one of `ADMIN_API_KEYS`; application keys are refused).')
    .addTag('auth', 'End users: sign-up, login, passwordless login, password reset and the signed-in account.')
    .addTag('health', 'Liveness, readiness, provider health and build information.')
    .addTag('metrics', 'Prometheus scrape endpoint.')
    .build();
  SwaggerModule.setup(DOCS_PATH, app, () => SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponse] }), {
    customSiteTitle: `${name} API`,
    raw: ['json'],
  });
}
